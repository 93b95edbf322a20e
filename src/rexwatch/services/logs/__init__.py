"""Logs: groups, streams, ingest, filtering, retention and export.

``catalog`` holds group and stream metadata (control store), ``store`` every
ClickHouse statement about events, ``ingest`` validation and the ingest
buffer, ``reading`` paging, ``service`` the ``LogsService`` that front doors call.
"""

from rexwatch.services.logs.service import LogsService

__all__ = ["LogsService"]

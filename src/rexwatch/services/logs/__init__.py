"""Logs: groups, streams, ingest, filtering, retention and export.

``model`` holds the domain objects the service takes and returns, ``ingest``
validation and the ingest buffer, ``reading`` paging, ``service`` the
``LogsService`` that front doors call. Group and stream metadata live in
``stores/control/logs_repo.py``, every ClickHouse statement about events in
``stores/telemetry/logs.py``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LogsService"]


def __getattr__(name: str) -> Any:
    # Imported lazily: stores import the domain model (``services.logs.model``) without
    # pulling in the service, which imports the stores.
    if name == "LogsService":
        from rexwatch.services.logs.service import LogsService

        return LogsService
    raise AttributeError(name)

"""Traces: OpenTelemetry spans in ClickHouse, fetched by trace id, searched, linked to their logs.

``TracesService`` (``runtime.service(TracesService)``) takes and returns the
typed objects of ``model``; the SQL lives in ``rexwatch.stores.telemetry.traces``.
"""

from rexwatch.services.traces.model import PutSpansResult, ServiceSummary, Span, SpanColumns, SpanSearch
from rexwatch.services.traces.service import TracesService

__all__ = ["PutSpansResult", "ServiceSummary", "Span", "SpanColumns", "SpanSearch", "TracesService"]

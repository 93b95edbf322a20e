"""``POST /v1/traces``: OTLP spans into the spans store.

Mapping (docs/intake.md): each span keeps its ids (lowercase hex), name,
kind, start and end, status, attributes, events and links; ``service`` is
the resource's ``service.name`` (``unknown_service`` when missing) and
``route`` the span's ``http.route`` attribute. Spans the traces service
refuses (bad ids, ending before they start, outside the retention period
or over two hours ahead) are counted in ``partial_success.rejected_spans``.

Spans are read into columns (``SpanColumns``), not one object each: the only
per-span Python is reading the decoded message's fields and encoding its
attributes as JSON; the traces service checks and converts whole columns.
"""

from __future__ import annotations

from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from rexwatch.intake import otlp
from rexwatch.intake.common import attributes
from rexwatch.runtime import Runtime
from rexwatch.services.traces import SpanColumns, TracesService

_EMPTY_OBJECT = b"{}"
_EMPTY_LIST = b"[]"


def _event(e: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"timeUnixNano": e.time_unix_nano, "name": e.name}
    if e.attributes:
        out["attributes"] = attributes(e.attributes)
    return out


def _link(link: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"traceId": link.trace_id.hex(), "spanId": link.span_id.hex()}
    if link.attributes:
        out["attributes"] = attributes(link.attributes)
    return out


def columns(req: ExportTraceServiceRequest) -> SpanColumns:
    """The spans of an export request, column by column."""
    cols = SpanColumns()
    dumps = orjson.dumps
    for rs in req.resource_spans:
        resource = attributes(rs.resource.attributes)
        service = resource.get("service.name")
        service = service if isinstance(service, str) and service else "unknown_service"
        resource_json = dumps(resource)
        for ss in rs.scope_spans:
            spans = list(ss.spans)
            if not spans:
                continue
            n = len(spans)
            cols.trace_id += [sp.trace_id for sp in spans]
            cols.span_id += [sp.span_id for sp in spans]
            cols.parent_span_id += [sp.parent_span_id for sp in spans]
            cols.name += [sp.name for sp in spans]
            cols.kind += [sp.kind for sp in spans]
            cols.start_ns += [sp.start_time_unix_nano for sp in spans]
            cols.end_ns += [sp.end_time_unix_nano for sp in spans]
            statuses = [sp.status for sp in spans]
            cols.status += [st.code for st in statuses]
            cols.status_message += [st.message for st in statuses]
            cols.service += [service] * n
            cols.scope += [ss.scope.name] * n
            cols.resource += [resource_json] * n
            attrs, routes = cols.attributes, cols.route
            for sp in spans:
                kvs = sp.attributes
                if kvs:
                    a = attributes(kvs)
                    attrs.append(dumps(a))
                    route = a.get("http.route")
                    routes.append(route if isinstance(route, str) else "")
                else:
                    attrs.append(_EMPTY_OBJECT)
                    routes.append("")
            cols.events += [dumps([_event(e) for e in ev]) if (ev := sp.events) else _EMPTY_LIST for sp in spans]
            cols.links += [dumps([_link(x) for x in ls]) if (ls := sp.links) else _EMPTY_LIST for sp in spans]
    return cols


def export(runtime: Runtime, req: ExportTraceServiceRequest) -> ExportTraceServiceResponse:
    result = runtime.service(TracesService).put_span_columns(columns(req))
    if result.rejected:
        return ExportTraceServiceResponse(partial_success=ExportTracePartialSuccess(
            rejected_spans=result.rejected, error_message=result.reason))
    return ExportTraceServiceResponse()


ROUTES = (("/v1/traces", lambda runtime: otlp.door(runtime, ExportTraceServiceRequest, export)),)

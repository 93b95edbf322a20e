"""``POST /v1/traces``: OTLP spans into the spans store.

Mapping (docs/intake.md): each span keeps its ids (lowercase hex), name,
kind, start and end, status, attributes, events and links; ``service`` is
the resource's ``service.name`` (``unknown_service`` when missing) and
``route`` the span's ``http.route`` attribute. Spans the traces service
refuses (bad ids, ending before they start, outside the retention period
or over two hours ahead) are counted in ``partial_success.rejected_spans``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from rexwatch.intake import otlp
from rexwatch.intake.common import attributes
from rexwatch.runtime import Runtime
from rexwatch.services.traces import Span, TracesService
from rexwatch.services.traces.model import KINDS, STATUSES


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


def export(runtime: Runtime, req: ExportTraceServiceRequest) -> ExportTraceServiceResponse:
    spans: list[Span] = []
    kinds = len(KINDS)
    for rs in req.resource_spans:
        resource = attributes(rs.resource.attributes)
        service = resource.get("service.name")
        service = service if isinstance(service, str) and service else "unknown_service"
        for ss in rs.scope_spans:
            scope = ss.scope.name
            for sp in ss.spans:
                st = sp.status
                spans.append(Span(
                    sp.trace_id.hex(),
                    sp.span_id.hex(),
                    sp.parent_span_id.hex(),
                    service,
                    sp.name,
                    KINDS[sp.kind] if 0 <= sp.kind < kinds else "?",
                    sp.start_time_unix_nano,
                    sp.end_time_unix_nano,
                    STATUSES[st.code] if 0 <= st.code < len(STATUSES) else "?",
                    st.message,
                    scope,
                    attributes(sp.attributes) if sp.attributes else {},
                    resource,
                    [_event(e) for e in sp.events],
                    [_link(x) for x in sp.links],
                ))
    result = runtime.service(TracesService).put_spans(spans)
    if result.rejected:
        return ExportTraceServiceResponse(partial_success=ExportTracePartialSuccess(
            rejected_spans=result.rejected, error_message=result.reason))
    return ExportTraceServiceResponse()


ROUTES = (("/v1/traces", lambda runtime: otlp.door(runtime, ExportTraceServiceRequest, export)),)

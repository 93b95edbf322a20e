"""Traces over REST: one trace with its spans, span search ("slowest traces"), per-service
request summaries computed from spans, and the log events of a trace."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from rexwatch.api.auth import get_runtime
from rexwatch.errors import Invalid
from rexwatch.runtime import Runtime
from rexwatch.services.traces import Span, SpanSearch, TracesService
from rexwatch.timeparse import parse_time

router = APIRouter(prefix="/traces", tags=["traces"])


def _svc(rt: Runtime) -> TracesService:
    return rt.service(TracesService)


def _time(value: str, field: str) -> dt.datetime:
    try:
        return parse_time(value)
    except Invalid as e:
        raise Invalid(f"{field}: {e.message}", field=field)


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns // 1_000_000_000, dt.UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1000).isoformat().replace("+00:00", "Z")


def span_out(s: Span) -> dict[str, Any]:
    return {
        "trace_id": s.trace_id,
        "span_id": s.span_id,
        "parent_span_id": s.parent_span_id or None,
        "service": s.service,
        "name": s.name,
        "kind": s.kind,
        "route": s.route or None,
        "start": _iso(s.start_ns),
        "start_unix_nano": s.start_ns,
        "duration_ms": s.duration_ns / 1e6,
        "status": s.status,
        "status_message": s.status_message or None,
        "scope": s.scope or None,
        "attributes": s.attributes,
        "resource": s.resource,
        "events": s.events,
        "links": s.links,
    }


@router.get("")
def search_traces(
    start: str = Query("1h", description="ISO-8601, epoch s/ms or relative (1h)"),
    end: str = "now",
    service: str | None = None,
    name: str | None = Query(None, description="span name, exactly"),
    route: str | None = Query(None, description="the span's http.route, exactly"),
    min_duration_ms: float | None = None,
    status: Literal["UNSET", "OK", "ERROR"] | None = None,
    order: Literal["slowest", "recent"] = "slowest",
    per_trace: bool = Query(True, description="one span (the first match) per trace"),
    limit: int = 100,
    rt: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    spans = _svc(rt).search(SpanSearch(
        _time(start, "start"), _time(end, "end"), service, name, route, min_duration_ms, status,
        order == "slowest", per_trace, limit,
    ))
    return {"spans": [span_out(s) for s in spans]}


@router.get("/services")
def service_summaries(start: str = "1h", end: str = "now", rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    out = _svc(rt).services(_time(start, "start"), _time(end, "end"))
    return {"services": [vars(s) for s in out]}


@router.get("/{trace_id}")
def get_trace(trace_id: str, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    spans = _svc(rt).trace(trace_id)
    first = min(s.start_ns for s in spans)
    last = max(s.end_ns for s in spans)
    roots = [s for s in spans if not s.parent_span_id]
    return {
        "trace_id": spans[0].trace_id,
        "root": span_out(roots[0]) if roots else None,
        "start": _iso(first),
        "duration_ms": (last - first) / 1e6,
        "services": sorted({s.service for s in spans}),
        "spans": [span_out(s) for s in spans],
    }


@router.get("/{trace_id}/logs")
def trace_logs(trace_id: str, limit: int = 1000, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    if not 1 <= limit <= 1000:
        raise Invalid("limit must be 1 to 1000", field="limit")
    events = _svc(rt).trace_logs(trace_id, limit)
    return {"events": [{"timestamp": e.timestamp, "log_group": e.log_group, "log_stream": e.log_stream,
                        "message": e.message, "ingestion_time": e.ingestion_time} for e in events]}

"""Trace pages: the slowest traces of a service and route, and one trace as a waterfall with its logs.

The waterfall is SVG drawn on the server (bars positioned by attributes, so
the page needs no script and passes the content security policy); each span's
attributes, events and resource are listed under it, and the trace's log
events (any log group, matched by trace id) follow.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from rexwatch.errors import Invalid, NotFound
from rexwatch.services.traces import Span, SpanSearch, TracesService
from rexwatch.web import templates
from rexwatch.web.common import call, time_range
from rexwatch.web.timezone import when

router = APIRouter(include_in_schema=False)
RELATIVE = ("15m", "1h", "6h", "24h", "7d")
WIDTH = 1000  # SVG user units of the waterfall's time axis


@dataclass
class Row:
    span: Span
    depth: int
    x: float
    width: float
    details: str


def _ms(ns: int) -> str:
    return f"{ns / 1e6:,.2f} ms"


def waterfall(spans: list[Span]) -> list[Row]:
    """Spans in tree order (children under their parent, by start) with their bar geometry."""
    first = min(s.start_ns for s in spans)
    total = max(max(s.end_ns for s in spans) - first, 1)
    ids = {s.span_id for s in spans}
    children: dict[str, list[Span]] = {}
    for s in spans:
        parent = s.parent_span_id if s.parent_span_id in ids else ""
        children.setdefault(parent, []).append(s)
    rows: list[Row] = []
    stack = [(s, 0) for s in reversed(sorted(children.get("", []), key=lambda s: s.start_ns))]
    seen: set[str] = set()
    while stack:
        s, depth = stack.pop()
        if s.span_id in seen:  # a malformed trace may repeat an id; draw it once
            continue
        seen.add(s.span_id)
        x = (s.start_ns - first) / total * WIDTH
        details = json.dumps({"attributes": s.attributes, "events": s.events, "links": s.links,
                              "resource": s.resource}, indent=2, ensure_ascii=False)
        rows.append(Row(s, depth, x, max(s.duration_ns / total * WIDTH, 1.0), details))
        for c in reversed(sorted(children.get(s.span_id, []), key=lambda c: c.start_ns)):
            stack.append((c, depth + 1))
    return rows


@router.get("/traces", response_class=HTMLResponse)
async def traces_page(request: Request) -> HTMLResponse:
    svc = request.app.state.runtime.service(TracesService)
    q = request.query_params
    tr, range_error = time_range(request)
    start = dt.datetime.fromtimestamp(tr.start_ms / 1000, dt.UTC)
    end = dt.datetime.fromtimestamp(tr.end_ms / 1000, dt.UTC) + dt.timedelta(milliseconds=1)
    problem = range_error
    spans: list[Span] = []
    services = []
    try:
        min_ms = float(q["min_duration_ms"]) if q.get("min_duration_ms") else None
        spans = await call(svc.search, SpanSearch(
            start, end, q.get("service") or None, None, q.get("route") or None, min_ms,
            q.get("status") or None, q.get("order", "slowest") != "recent", True, 100))
        services = await call(svc.services, start, end)
    except Invalid as e:
        problem = e.message
    except ValueError:
        problem = "minimum duration must be a number of milliseconds"
    return templates.TemplateResponse(request, "traces.html", {
        "spans": spans, "services": services, "tr": tr, "relative": RELATIVE, "problem": problem,
        "q": {k: q.get(k, "") for k in ("service", "route", "status", "min_duration_ms", "order")}, "ms": _ms,
        "when": lambda ns: when(ns / 1e6),
    })


@router.get("/traces/{trace_id}", response_class=HTMLResponse)
async def trace_page(request: Request, trace_id: str) -> HTMLResponse:
    svc = request.app.state.runtime.service(TracesService)
    try:
        spans = await call(svc.trace, trace_id)
    except (NotFound, Invalid) as e:
        return templates.TemplateResponse(request, "trace.html", {"missing": e.message, "trace_id": trace_id},
                                          status_code=404)
    rows = waterfall(spans)
    logs = await call(svc.trace_logs, trace_id, 200)
    first = min(s.start_ns for s in spans)
    total = max(s.end_ns for s in spans) - first
    return templates.TemplateResponse(request, "trace.html", {
        "trace_id": spans[0].trace_id, "rows": rows, "logs": logs, "width": WIDTH, "ms": _ms,
        "total": total, "start": dt.datetime.fromtimestamp(first / 1e9, dt.UTC),
        "services": sorted({s.service for s in spans}),
        "log_time": lambda ms: when(ms, "%H:%M:%S.%f")[:-3],
    })

"""Logs pages: the group list, one group's streams and events (filter, histogram, paging), and
live tail over server-sent events. Every read goes through LogsService."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from rexwatch.errors import Invalid, NotFound, RexwatchError
from rexwatch.services.logs import LogsService
from rexwatch.web import templates
from rexwatch.web.common import (
    RELATIVE,
    call,
    error_parts,
    fmt_bytes,
    fmt_ms,
    json_html,
    parse_json_message,
    time_range,
    url,
)

# With auth on, the gate (api/guard.py) lets only keys through unless `public` names ui.
router = APIRouter(include_in_schema=False)

MAX_GROUPS_LISTED = 1000  # the list reads at most this many groups (20 pages of 50)
# A page of 50: the first events show at once (each JSON one is pretty-printed, which the browser
# lays out only after the first paint); the pager reaches the rest.
PAGE_EVENTS = 50
HISTOGRAM_BUCKETS = 60
SORTS = {"name", "retention", "bytes", "last"}
# Live tail: how often the stream polls for new events, how many it sends a poll, and how long one
# connection lives (the browser's EventSource reconnects on its own, resuming after Last-Event-ID).
TAIL_POLL_S = 1.0
TAIL_BATCH = 500
TAIL_LIFETIME_S = 300.0


def _svc(request: Request) -> LogsService:
    return request.app.state.runtime.service(LogsService)


def _list_groups(svc: LogsService, search: str | None) -> list[Any]:
    groups, token = [], None
    while len(groups) < MAX_GROUPS_LISTED:
        page, token = svc.describe_log_groups(pattern=search or None, next_token=token, limit=50)
        groups += page
        if not token:
            break
    last = svc.last_event_times([g.name for g in groups]) if groups else {}
    indexed: dict[str, list[str]] = {}
    for i in range(0, len(groups), 100):  # DescribeFieldIndexes takes 100 groups a call
        for f in svc.describe_field_indexes([g.name for g in groups[i:i + 100]]):
            indexed.setdefault(f.group_arn, []).append(f.field_name)
    return [{"g": g, "last": last.get(g.name), "indexed": indexed.get(g.arn, [])} for g in groups]


@router.get("/logs", response_class=HTMLResponse)
async def groups_page(request: Request, q: str = "", sort: str = "name", desc: bool = False) -> HTMLResponse:
    svc = _svc(request)
    error = None
    rows: list[dict[str, Any]] = []
    search = q.strip()[:512]
    try:
        rows = await call(_list_groups, svc, search)
    except RexwatchError as e:
        error = e.message
    sort = sort if sort in SORTS else "name"
    keys = {
        "name": lambda r: r["g"].name,
        "retention": lambda r: r["g"].retention_days or 10**9,
        "bytes": lambda r: r["g"].stored_bytes,
        "last": lambda r: r["last"] or 0,
    }
    rows.sort(key=keys[sort], reverse=desc)
    return templates.TemplateResponse(request, "logs.html", {
        "rows": rows, "q": search, "sort": sort, "desc": desc, "error": error, "url": url,
        "fmt_ms": fmt_ms, "fmt_bytes": fmt_bytes, "base_url": request.app.state.runtime.settings.base_url,
        "truncated": len(rows) >= MAX_GROUPS_LISTED,
    })


def _events_view(svc: LogsService, name: str, stream: str | None, pattern: str | None, start_ms: int,
                 end_ms: int, token: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"events": [], "next_token": None, "pattern_error": None}
    try:
        page = svc.filter_log_events([name], stream_names=[stream] if stream else None, start_ms=start_ms,
                                     end_ms=end_ms, pattern=pattern, limit=PAGE_EVENTS, next_token=token)
    except RexwatchError as e:
        if getattr(e, "start", None) is not None:  # the filter pattern did not compile
            out["pattern_error"] = error_parts(e, pattern or "")
            return out
        raise
    out["events"] = [{"e": ev, "json": (lambda d: json_html(d) if d is not None else None)(
        parse_json_message(ev.message))} for ev in page.events]
    out["next_token"] = page.next_token
    return out


def _streams(svc: LogsService, name: str) -> dict[str, Any]:
    streams, _ = svc.describe_log_streams(name, order_by="LastEventTime", descending=True, limit=50)
    return {"streams": streams, "stored": svc.describe_log_group(name).stored_bytes}


def _own_group(request: Request, name: str) -> str | None:
    """What rexwatch itself writes into ``name``, when it is one of its own groups (the console
    links them before their first event creates them)."""
    st = request.app.state.runtime.settings
    return {st.audit_log_group: "the audit trail: every change through any door, and failed sign-ins",
            st.security_log_group: "an event for every IP address blocked or unblocked",
            st.self_monitor_log_group: "the server's own request log"}.get(name)


@router.get("/logs/group", response_class=HTMLResponse)
async def group_page(request: Request, name: str = "", stream: str = "", pattern: str = "",
                     token: str = "") -> HTMLResponse:
    """The controls and the first page of events come first; the group's stored bytes, its streams
    and the histogram (counts over the whole range: the slowest reads on a big group) are fetched
    by the page once it shows."""
    svc = _svc(request)
    tr, range_error = time_range(request)
    ctx: dict[str, Any] = {"name": name, "stream": stream, "pattern": pattern, "tr": tr, "relative": RELATIVE,
                           "range_error": range_error, "url": url, "fmt_ms": fmt_ms, "fmt_bytes": fmt_bytes,
                           "token": token, "error": None, "group": None, "events": [],
                           "next_token": None, "pattern_error": None, "page_events": PAGE_EVENTS}
    try:
        ctx["group"] = await call(svc.group, name)
        ctx.update(await call(_events_view, svc, name, stream or None, pattern or None, tr.start_ms, tr.end_ms,
                              token or None))
    except NotFound as e:
        own = _own_group(request, name)  # not made yet: an empty state, not a missing page
        return templates.TemplateResponse(request, "logs_missing.html",
                                          {"name": name, "message": e.message, "own": own},
                                          status_code=200 if own else 404)
    except RexwatchError as e:
        ctx["error"] = e.message
    if ctx["group"] is not None:
        ctx["streams_url"] = url("/logs/group/streams", name=name, pattern=pattern, **tr.params())
    if ctx["group"] is not None and not ctx["pattern_error"] and not ctx["error"]:
        ctx["histogram_url"] = url("/logs/group/histogram", name=name, stream=stream, pattern=pattern,
                                   start=str(tr.start_ms), end=str(tr.end_ms), label=tr.label)
    status = 400 if ctx.get("pattern_error") or ctx["error"] else 200
    return templates.TemplateResponse(request, "logs_group.html", ctx, status_code=status)


@router.get("/logs/group/streams", response_class=HTMLResponse)
async def group_streams(request: Request, name: str = "", pattern: str = "") -> HTMLResponse:
    """The group page's streams (newest event first) and the group's stored bytes: a fragment."""
    svc = _svc(request)
    tr, _ = time_range(request)
    ctx: dict[str, Any] = {"name": name, "pattern": pattern, "tr": tr, "url": url, "fmt_ms": fmt_ms,
                           "fmt_bytes": fmt_bytes, "problem": None, "streams": [], "stored": None}
    try:
        ctx.update(await call(_streams, svc, name))
    except RexwatchError as e:
        ctx["problem"] = e.message
    return templates.TemplateResponse(request, "logs_streams.html", ctx)


@router.get("/logs/group/histogram", response_class=HTMLResponse)
async def group_histogram(request: Request, name: str = "", stream: str = "", pattern: str = "",
                          label: str = "") -> HTMLResponse:
    """The matching events over the range in 60 bars (one aggregate query): the group page's chart."""
    svc = _svc(request)
    tr, _ = time_range(request)
    ctx: dict[str, Any] = {"label": label[:200] or tr.label, "problem": None, "histogram": None}
    try:
        width, counts = await call(svc.histogram, [name], start_ms=tr.start_ms, end_ms=tr.end_ms,
                                   pattern=pattern or None, stream_names=[stream] if stream else None,
                                   buckets=HISTOGRAM_BUCKETS)
        hist = {"start": tr.start_ms, "width": width, "counts": counts, "total": sum(counts)}
        ctx["histogram"] = hist
        ctx["histogram_json"] = json.dumps(hist)
    except RexwatchError as e:
        ctx["problem"] = e.message
    return templates.TemplateResponse(request, "logs_histogram.html", ctx)


def _export_name(group: str, start_ms: int, end_ms: int) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", group).strip("_")[:100] or "logs"
    return f"{safe}-{fmt_ms(start_ms).replace(' ', 'T').replace(':', '')}-{fmt_ms(end_ms).replace(' ', 'T').replace(':', '')}.parquet"


@router.get("/logs/group/export")
async def export_parquet(request: Request, name: str = "", pattern: str = "") -> StreamingResponse:
    """The group's events of the page's time range (matching its filter pattern) as one Parquet file,
    streamed as it is written (the same export the CLI's ``logs export`` makes, without the
    partitioning)."""
    svc = _svc(request)
    tr, range_error = time_range(request)
    if range_error:
        raise Invalid(range_error, field="start")
    total, chunks = await call(svc.export_parquet, name, tr.start_ms, tr.end_ms, pattern or None)
    headers = {"Content-Disposition": f'attachment; filename="{_export_name(name, tr.start_ms, tr.end_ms)}"',
               "X-Total-Events": str(total), "Cache-Control": "no-store"}
    # A sync iterator: Starlette runs each step in a worker thread, so reading the store never blocks the loop.
    return StreamingResponse(chunks, media_type="application/vnd.apache.parquet", headers=headers)


# Live tail ---------------------------------------------------------------------------------------

@router.get("/logs/tail", response_class=HTMLResponse)
async def tail_page(request: Request, group: list[str] | None = Query(None), pattern: str = "") -> HTMLResponse:
    svc = _svc(request)
    names: list[str] = []
    try:
        names = [r["g"].name for r in await call(_list_groups, svc, None)]
    except RexwatchError:
        pass
    chosen = [g for g in (group or []) if g]
    return templates.TemplateResponse(request, "logs_tail.html", {
        "names": names, "chosen": chosen, "pattern": pattern, "url": url,
        "stream_url": url("/logs/tail/stream", group=chosen, pattern=pattern) if chosen else None,
    })


def _sse(event: str, data: Any, event_id: str | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in json.dumps(data).split("\n")]
    return "\n".join(lines) + "\n\n"


@router.get("/logs/tail/stream")
async def tail_stream(request: Request, group: list[str] | None = Query(None), pattern: str = "") -> StreamingResponse:
    """Server-sent events: ``event: events`` with a JSON list of new events (``id`` is the cursor),
    ``event: problem`` with a message when the groups or the pattern are wrong."""
    svc = _svc(request)
    names = [g for g in (group or []) if g][:10]
    last_id = request.headers.get("last-event-id", "")

    async def stream():
        try:
            after = int(last_id) if last_id.isdigit() else await call(svc.last_seq, names)
            await call(svc.tail, names, after_seq=after, pattern=pattern or None, limit=1)  # checks it all
        except RexwatchError as e:
            yield _sse("problem", {"message": e.message, **{k: v for k, v in error_parts(e, pattern).items()
                                                            if k in ("start", "end")}})
            return
        yield _sse("ready", {"cursor": after}, str(after))
        deadline = time.monotonic() + TAIL_LIFETIME_S
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                return
            try:
                page = await call(svc.tail, names, after_seq=after, pattern=pattern or None, limit=TAIL_BATCH)
            except RexwatchError as e:
                yield _sse("problem", {"message": e.message})
                return
            if page.last_seq is not None and page.last_seq > after:
                after = page.last_seq
            if page.events:
                yield _sse("events", [{"timestamp": ev.timestamp, "time": fmt_ms(ev.timestamp),
                                       "stream": ev.log_stream, "group": ev.log_group or names[0],
                                       "message": ev.message} for ev in page.events], str(after))
            else:
                yield ": keep-alive\n\n"
            await asyncio.sleep(TAIL_POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

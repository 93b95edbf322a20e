"""Logs Insights page: editor, group multi-select, time range, results table, a chart for
``stats … by bin()``, the runbook's queries as samples, and saved query definitions.

The page's state (query, groups, range) lives in the URL, so a result is linkable: opening the
URL runs the query again. Results arrive by htmx polling ``/insights/results`` until the query
is done. Everything goes through QueriesService, the service behind StartQuery/GetQueryResults.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import secrets
import time
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from rexwatch.errors import Invalid, RexwatchError
from rexwatch.lang.insights.functions import FUNCTIONS
from rexwatch.lang.insights.parser import COMMANDS
from rexwatch.services.insights.service import QueriesService
from rexwatch.services.logs import LogsService
from rexwatch.services.logs.fields import log_group_fields
from rexwatch.web import templates
from rexwatch.web.common import (
    RELATIVE,
    call,
    check_csrf,
    csrf_token,
    error_parts,
    fmt_ms,
    set_csrf_cookie,
    time_range,
    url,
)
from rexwatch.web.downsample import DEFAULT_WIDTH, chart_width, to_width

# With auth on, the gate (api/guard.py) lets only keys through unless `public` names ui.
router = APIRouter(include_in_schema=False)

# The runbook's four queries, offered as samples in the editor.
SAMPLES: tuple[tuple[str, str], ...] = (
    ("Find errors", "fields @timestamp, @message\n| filter @message like /ERROR/\n| sort @timestamp desc\n"
                    "| limit 100"),
    ("Slow API requests", "fields @timestamp, method, path, duration\n| filter duration > 1000\n"
                          "| sort duration desc\n| limit 50"),
    ("Failed login attempts", 'fields @timestamp, user_id, ip_address\n| filter action = "login" and success = false\n'
                              "| stats count() by user_id, ip_address"),
    ("Request volume by endpoint", "fields @timestamp, path\n| stats count() by path\n| sort count desc"),
    ("Errors over time", "filter @message like /ERROR/\n| stats count() by bin(5m)"),
)
MAX_CHART_SERIES = 20
POLL = "load delay:400ms"
# With auth off there is no user: the history belongs to the browser, named by a random cookie.
BROWSER_COOKIE = "rexwatch_browser"
# Words the editor completes besides the fields of the chosen groups.
KEYWORDS = ("and", "or", "not", "like", "in", "as", "by", "asc", "desc")
MAX_FIELD_GROUPS = 10  # groups sampled for field names (each reads up to 1,000 recent events)


def history_owner(request: Request) -> tuple[str, str | None]:
    """Whose history this is: the signed-in user or the key, else this browser (and the cookie
    value to set when the browser has none yet)."""
    principal = request.scope.get("state", {}).get("principal")
    if principal is not None:
        return (f"user:{principal.name}" if principal.kind == "user" else f"key:{principal.key_prefix}"), None
    cookie = request.cookies.get(BROWSER_COOKIE, "")
    if re.fullmatch(r"[A-Za-z0-9_-]{20,64}", cookie):
        return f"browser:{cookie}", None
    new = secrets.token_urlsafe(24)
    return f"browser:{new}", new


def _group_names(logs: LogsService) -> list[str]:
    names, token = [], None
    for _ in range(20):  # bounded: 1,000 groups
        page, token = logs.describe_log_groups(next_token=token, limit=50)
        names += [g.name for g in page]
        if not token:
            break
    return names


def _definitions(svc: QueriesService) -> list[Any]:
    try:
        defs, _ = svc.describe_query_definitions(max_results=100)
    except RexwatchError:
        return []
    return defs


@router.get("/insights", response_class=HTMLResponse)
async def insights_page(request: Request, q: str = "", group: list[str] | None = Query(None),
                        run: str = "") -> HTMLResponse:
    svc: QueriesService = request.app.state.runtime.service(QueriesService)
    logs: LogsService = request.app.state.runtime.service(LogsService)
    tr, range_error = time_range(request)
    chosen = [g for g in (group or []) if g][:50]
    ctx: dict[str, Any] = {"q": q, "chosen": chosen, "tr": tr, "relative": RELATIVE, "range_error": range_error,
                           "samples": SAMPLES, "query_id": None, "error": None, "url": url,
                           "csrf": csrf_token(request), "poll": POLL, "fmt_ms": fmt_ms, "t0": 0}
    ctx["names"] = await call(_group_names, logs)
    ctx["definitions"] = await call(_definitions, svc)
    owner, new_cookie = history_owner(request)
    status = 200
    if run and q.strip() and not chosen:
        # StartQuery's own wording names its AWS parameters; the page has a list to choose from.
        ctx["error"] = {"message": "Choose at least one log group to query."}
        status = 400
    elif run and q.strip():
        try:
            ctx["query_id"] = await call(svc.start_query, q, group_names=chosen, start_s=tr.start_ms // 1000,
                                         end_s=-(-tr.end_ms // 1000))
            ctx["t0"] = int(time.time() * 1000)
            await call(svc.record_history, owner, q, chosen)
        except RexwatchError as e:
            ctx["error"] = error_parts(e, q)
            status = 400
    ctx["history"] = await call(svc.history, owner, 20)
    response = templates.TemplateResponse(request, "insights.html", ctx, status_code=status)
    if new_cookie:
        response.set_cookie(BROWSER_COOKIE, new_cookie, httponly=True, samesite="lax", path="/",
                            max_age=400 * 86400)
    return set_csrf_cookie(request, response)


@router.get("/insights/complete")
async def complete(request: Request, group: list[str] | None = Query(None)) -> JSONResponse:
    """What the editor completes: commands, functions, keywords and the fields found in the chosen
    groups' events of the time range (as GetLogGroupFields discovers them)."""
    logs: LogsService = request.app.state.runtime.service(LogsService)
    tr, _ = time_range(request)
    fields: dict[str, int] = {}
    for g in [g for g in (group or []) if g][:MAX_FIELD_GROUPS]:
        try:
            found = await call(log_group_fields, logs, g, window_ms=(tr.start_ms, tr.end_ms))
        except RexwatchError:
            continue  # a group that went away completes nothing
        for name, share in found:
            fields[name] = max(share, fields.get(name, 0))
    return JSONResponse({
        "commands": list(COMMANDS),
        "functions": sorted({f.name for f in FUNCTIONS.values()}, key=str.lower),
        "keywords": list(KEYWORDS),
        "fields": [{"name": k, "percent": v} for k, v in fields.items()],
    })


def _epoch_s(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return None


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def chart_of(columns: list[str], rows: list[tuple], width: int = DEFAULT_WIDTH) -> dict[str, Any] | None:
    """A time-series chart for a result grouped by ``bin()``: one series per numeric column and
    per combination of the other group-by columns. None when the result is not such a table."""
    bins = [i for i, c in enumerate(columns) if c.startswith("bin(")]
    if not bins or not rows:
        return None
    b = bins[0]
    numeric = [i for i in range(len(columns)) if i != b and all(_number(r[i]) is not None or r[i] is None
                                                                  for r in rows)]
    keys = [i for i in range(len(columns)) if i != b and i not in numeric]
    if not numeric:
        return None
    xs = sorted({t for t in (_epoch_s(r[b]) for r in rows) if t is not None})
    at = {x: n for n, x in enumerate(xs)}
    series: dict[str, list[float | None]] = {}
    for r in rows:
        t = _epoch_s(r[b])
        if t is None:
            continue
        prefix = " ".join(str(r[k]) for k in keys)
        for i in numeric:
            label = f"{prefix} {columns[i]}".strip()
            if label not in series:
                if len(series) >= MAX_CHART_SERIES:
                    continue
                series[label] = [None] * len(xs)
            series[label][at[t]] = _number(r[i])
    # Over two bins per pixel column the chart gets each column's lowest and highest value (the table
    # keeps every row): the browser draws no more points than the chart is wide, and a spike shows.
    return to_width({"x": xs, "series": [{"label": k, "values": v} for k, v in series.items()]}, width)


def _results_fragment(request: Request, result: Any, query_id: str, t0: int) -> HTMLResponse:
    chart = chart_of(result.columns, result.rows, chart_width(request)) if result.status == "Complete" else None
    elapsed = max(0.0, (time.time() * 1000 - t0) / 1000) if t0 > 0 else None
    return templates.TemplateResponse(request, "insights_results.html", {
        "r": result, "id": query_id, "poll": POLL, "chart_json": json.dumps(chart) if chart else None,
        "chart_thinned": (chart or {}).get("columns"), "chart_points_in": (chart or {}).get("points_in"),
        "done": result.status in ("Complete", "Failed", "Cancelled", "Timeout"), "t0": t0, "elapsed": elapsed,
        "csrf": csrf_token(request), "url": url,
    })


@router.get("/insights/results", response_class=HTMLResponse)
async def results(request: Request, id: str = "", t0: int = 0) -> HTMLResponse:
    svc: QueriesService = request.app.state.runtime.service(QueriesService)
    try:
        result = await call(svc.get_query_results, id)
    except RexwatchError as e:
        return templates.TemplateResponse(request, "insights_results.html", {"problem": e.message},
                                          status_code=200)
    return _results_fragment(request, result, id, t0)


@router.post("/insights/stop", response_class=HTMLResponse)
async def stop(request: Request) -> HTMLResponse:
    """Cancel a running query (StopQuery) and answer the results box showing it cancelled."""
    fields = await check_csrf(request)
    svc: QueriesService = request.app.state.runtime.service(QueriesService)
    query_id = fields.get("id", "")
    try:
        await call(svc.stop_query, query_id)
        result = await call(svc.get_query_results, query_id)
    except RexwatchError as e:
        return templates.TemplateResponse(request, "insights_results.html", {"problem": e.message},
                                          status_code=200)
    return _results_fragment(request, result, query_id, 0)


def _csv_cell(v: str | None) -> str:
    """A cell starting with = + - @ would be read as a formula by a spreadsheet: it is quoted as
    text, unless it is a number (-3)."""
    if v is None:
        return ""
    if v[:1] in ("=", "+", "-", "@") and _number(v) is None:
        return "'" + v
    return v


@router.get("/insights/download")
async def download(request: Request, id: str = "", format: str = "csv") -> Response:
    """A finished query's result as a CSV or JSON file (at most the 10,000 rows a result holds)."""
    svc: QueriesService = request.app.state.runtime.service(QueriesService)
    if format not in ("csv", "json"):
        raise Invalid("format must be csv or json", field="format")
    result = await call(svc.get_query_results, id)
    if result.status not in ("Complete", "Timeout"):
        raise Invalid(f"the query is {result.status}: only a finished query's results can be downloaded",
                      field="id")
    name = f"insights-{id[:12]}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    if format == "json":
        body = orjson.dumps([dict(zip(result.columns, row, strict=False)) for row in result.rows])
        return Response(body, media_type="application/json", headers=headers)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(result.columns)
    # A cell starting with = + - @ would be read as a formula by a spreadsheet: quote it as text.
    w.writerows([[_csv_cell(v) for v in row] for row in result.rows])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


@router.post("/insights/save")
async def save(request: Request) -> RedirectResponse:
    fields = await check_csrf(request)
    form = await request.form()
    groups = [g for g in form.getlist("group") if isinstance(g, str) and g]
    svc: QueriesService = request.app.state.runtime.service(QueriesService)
    name, q = fields.get("name", "").strip(), fields.get("q", "")
    try:
        await call(svc.put_query_definition, name, q, group_names=groups or None)
    except RexwatchError as e:
        return RedirectResponse(url("/insights", q=q, group=groups, save_error=e.message), status_code=303)
    return RedirectResponse(url("/insights", q=q, group=groups, saved=name), status_code=303)

"""Logs Insights page: editor, group multi-select, time range, results table, a chart for
``stats … by bin()``, the runbook's queries as samples, and saved query definitions.

The page's state (query, groups, range) lives in the URL, so a result is linkable: opening the
URL runs the query again. Results arrive by htmx polling ``/insights/results`` until the query
is done. Everything goes through QueriesService, the service behind StartQuery/GetQueryResults.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from rexwatch.errors import RexwatchError
from rexwatch.services.insights.service import QueriesService
from rexwatch.services.logs import LogsService
from rexwatch.web import templates
from rexwatch.web.common import (
    RELATIVE,
    call,
    check_csrf,
    csrf_token,
    error_parts,
    set_csrf_cookie,
    time_range,
    url,
)

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
                           "csrf": csrf_token(request), "poll": POLL}
    ctx["names"] = await call(_group_names, logs)
    ctx["definitions"] = await call(_definitions, svc)
    status = 200
    if run and q.strip():
        try:
            ctx["query_id"] = await call(svc.start_query, q, group_names=chosen, start_s=tr.start_ms // 1000,
                                         end_s=-(-tr.end_ms // 1000))
        except RexwatchError as e:
            ctx["error"] = error_parts(e, q)
            status = 400
    response = templates.TemplateResponse(request, "insights.html", ctx, status_code=status)
    return set_csrf_cookie(request, response)


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


def chart_of(columns: list[str], rows: list[tuple]) -> dict[str, Any] | None:
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
    return {"x": xs, "series": [{"label": k, "values": v} for k, v in series.items()]}


@router.get("/insights/results", response_class=HTMLResponse)
async def results(request: Request, id: str = "") -> HTMLResponse:
    svc: QueriesService = request.app.state.runtime.service(QueriesService)
    try:
        result = await call(svc.get_query_results, id)
    except RexwatchError as e:
        return templates.TemplateResponse(request, "insights_results.html", {"problem": e.message},
                                          status_code=200)
    chart = chart_of(result.columns, result.rows) if result.status == "Complete" else None
    return templates.TemplateResponse(request, "insights_results.html", {
        "r": result, "id": id, "poll": POLL, "chart_json": json.dumps(chart) if chart else None,
        "done": result.status in ("Complete", "Failed", "Cancelled", "Timeout"),
    })


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

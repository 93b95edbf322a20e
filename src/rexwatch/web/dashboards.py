"""Dashboard pages: the list, and one dashboard with its widgets laid on the 24-column grid.

The page holds only the frame of each widget (title, place, links); the browser fetches every
widget's data from its own JSON endpoint (``/dashboards/<name>/widgets/<i>``), so a slow widget
does not hold up the others. The time range is shared: the URL's ``since`` or ``start``/``end``,
else the dashboard's own ``start``/``end``; ``periodOverride`` comes from the body. Text widgets
are rendered on the server (markdown, sanitised); explorer and custom widgets show a note.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rexwatch.api.auth import require_api_key
from rexwatch.errors import Invalid, InvalidDashboard, NotFound, RexwatchError
from rexwatch.services.dashboards import DashboardsService
from rexwatch.services.dashboards import body as bodies
from rexwatch.services.dashboards import variables as V
from rexwatch.services.dashboards import widgets as W
from rexwatch.web import templates
from rexwatch.web.common import (
    RELATIVE,
    TimeRange,
    _iso,
    call,
    check_csrf,
    csrf_token,
    set_csrf_cookie,
    time_range,
    url,
)
from rexwatch.web.markdown import render as markdown
from rexwatch.web.timezone import when

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_api_key)])

REFRESH = (("", "off"), ("10s", "10 s"), ("1m", "1 min"), ("2m", "2 min"), ("5m", "5 min"), ("15m", "15 min"))
MAX_LOG_ROWS = 1000
# What the console cannot draw, named in the widget's place.
UNSUPPORTED = {
    "explorer": "Explorer widgets (metrics chosen by tags of AWS resources) are not supported: rexwatch has no "
                "resource tags to select by. Use a metric widget with a SEARCH expression instead.",
    "custom": "Custom widgets (drawn by an AWS Lambda function) are not supported: rexwatch runs no Lambda "
              "functions.",
}
_DURATION = re.compile(r"^-P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def _since_of(relative: str) -> str | None:
    """CloudWatch's ``-PT3H`` as the console's ``3h``."""
    m = _DURATION.match(relative)
    if not m:
        return None
    w, d, h, mi, s = (int(g or 0) for g in m.groups())
    total = ((w * 7 + d) * 24 + h) * 3600 + mi * 60 + s
    if total <= 0:
        return None
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if total % size == 0:
            return f"{total // size}{unit}"
    return f"{total}s"


def dashboard_range(request: Request, doc: dict[str, Any]) -> tuple[TimeRange, str | None]:
    """The URL's range when it has one, else the dashboard's ``start``/``end``, else 3 hours."""
    q = request.query_params
    if q.get("since") or q.get("start") or q.get("end"):
        return time_range(request, "3h")
    start, end = doc.get("start"), doc.get("end")
    if isinstance(start, str):
        since = _since_of(start)
        if since and not end:
            return time_range(request, since)
        try:
            s = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
            e = dt.datetime.fromisoformat(end.replace("Z", "+00:00")) if isinstance(end, str) else \
                dt.datetime.now(dt.UTC)
            s = s if s.tzinfo else s.replace(tzinfo=dt.UTC)
            e = e if e.tzinfo else e.replace(tzinfo=dt.UTC)
            if e > s:
                s_ms, e_ms = int(s.timestamp() * 1000), int(e.timestamp() * 1000)
                return TimeRange(None, _iso(s_ms), _iso(e_ms), s_ms, e_ms), None
        except ValueError:
            pass
    return time_range(request, "3h")


def _load(request: Request, name: str) -> tuple[Any, dict[str, Any]]:
    svc = request.app.state.runtime.service(DashboardsService)
    d = svc.get(name)
    doc = bodies.parse_or_none(d.body)
    if not isinstance(doc, dict):
        raise Invalid(f"the body of dashboard {name} is not a JSON object")
    return d, doc


@router.get("/dashboards", response_class=HTMLResponse)
async def dashboards_page(request: Request, prefix: str = "") -> HTMLResponse:
    svc = request.app.state.runtime.service(DashboardsService)
    problem = None
    try:
        entries, _ = await call(svc.list, prefix or None)
    except RexwatchError as e:
        entries, problem = [], e.message
    return templates.TemplateResponse(request, "dashboards.html", {
        "entries": entries, "prefix": prefix, "problem": problem,
        "when": when})


def _title(w: dict[str, Any]) -> str:
    props = w.get("properties") if isinstance(w.get("properties"), dict) else {}
    title = props.get("title")
    if isinstance(title, str) and title:
        return title
    kind = w.get("type")
    if kind == "metric":
        for names, opts in bodies.expand_metrics([r for r in props.get("metrics") or [] if isinstance(r, list) and r]):
            if names and len(names) > 1:
                return f"{names[1]}"
            if opts.get("expression"):
                return str(opts.get("label") or opts["expression"])[:80]
    if kind == "log" and isinstance(props.get("query"), str):
        groups, _ = W.split_log_query(props["query"])
        return ", ".join(groups) or "Logs"
    return {"alarm": "Alarms", "text": ""}.get(str(kind), str(kind or "widget"))


@router.get("/dashboards/{name}", response_class=HTMLResponse)
async def dashboard_page(request: Request, name: str) -> HTMLResponse:
    try:
        d, doc = await call(_load, request, name)
    except NotFound:
        return templates.TemplateResponse(request, "dashboards.html", {
            "entries": [], "prefix": "", "problem": f"Dashboard {name} does not exist.", "when": str},
            status_code=404)
    tr, range_error = dashboard_range(request, doc)
    variables = V.read(doc)
    await call(V.populate, request.app.state.runtime, doc, variables)
    values = V.chosen(variables, dict(request.query_params))
    var_params = {f"var.{k}": v for k, v in values.items()}
    placed = W.layout(doc.get("widgets") or [])
    cells = []
    for p in placed:
        widget = V.apply(p.widget, variables, values)
        kind = widget.get("type")
        props = widget.get("properties") if isinstance(widget.get("properties"), dict) else {}
        cell: dict[str, Any] = {"p": p, "type": kind, "title": _title(widget),
                                "view": props.get("view") or ("table" if kind == "log" else "timeSeries")}
        if kind == "text":
            cell["html"] = markdown(props.get("markdown") if isinstance(props.get("markdown"), str) else "")
            cell["transparent"] = props.get("background") == "transparent"
        elif kind in UNSUPPORTED:
            cell["note"] = UNSUPPORTED[kind]
        elif kind in ("metric", "log", "alarm"):
            cell["src"] = url(f"/dashboards/{quote(name, safe='')}/widgets/{p.index}", **tr.params(), **var_params)
        else:
            cell["note"] = f"Widget type {kind!r} is not supported."
        cells.append(cell)
    rows = max((p.y + p.height for p in placed), default=1)
    refresh = request.query_params.get("refresh", "")
    response = templates.TemplateResponse(request, "dashboard.html", {
        "d": d, "cells": cells, "rows": rows, "tr": tr, "relative": RELATIVE, "range_error": range_error,
        "refresh": refresh if refresh in dict(REFRESH) else "", "refresh_choices": REFRESH,
        "variables": variables, "values": values, "done": request.query_params.get("done"),
        "csrf": csrf_token(request),
        "period_override": doc.get("periodOverride", "auto")})
    return set_csrf_cookie(request, response)


def _window(tr: TimeRange) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.fromtimestamp(tr.start_ms / 1000, dt.UTC)
    end = dt.datetime.fromtimestamp(max(tr.end_ms, tr.start_ms + 1000) / 1000, dt.UTC)
    return start, end


def _explorer_link(props: dict[str, Any], tr: TimeRange) -> str | None:
    """The metrics explorer (``/metrics/explorer``) with the widget's metrics, expression and range."""
    rows = [r for r in props.get("metrics") or [] if isinstance(r, list) and r]
    series: list[str] = []
    expr = ""
    stat = props.get("stat")
    for names, opts in bodies.expand_metrics(rows):
        if opts.get("expression"):
            expr = expr or str(opts["expression"])
        elif len(names) >= 2:
            dims = [[names[j], names[j + 1]] for j in range(2, len(names) - 1, 2)]
            series.append(json.dumps([names[0], names[1], dims], separators=(",", ":")))
            stat = stat or opts.get("stat")
    if not series and not expr:
        return None
    return url("/metrics/explorer", m=series[:10], stat=stat or "Average", period=props.get("period"),
               expr=expr or None, **tr.params())


def _metric_widget(runtime: Any, props: dict[str, Any], tr: TimeRange, period_override: str) -> dict[str, Any]:
    start, end = _window(tr)
    out = W.metric_data(runtime, props, start, end, period_override if period_override in ("auto", "inherit")
                        else "auto")
    out["explorer"] = _explorer_link(props, tr)
    return out


def _log_widget(runtime: Any, props: dict[str, Any], tr: TimeRange) -> dict[str, Any]:
    from rexwatch.services.insights.service import QueriesService
    from rexwatch.web.insights import chart_of

    query = props.get("query") if isinstance(props.get("query"), str) else ""
    groups, rest = W.split_log_query(query)
    if not groups:
        raise Invalid("the log widget's query names no log group: start it with SOURCE '<log group>' |")
    svc = runtime.service(QueriesService)
    qid = svc.start_query(rest, group_names=groups, start_s=tr.start_ms // 1000, end_s=-(-tr.end_ms // 1000))
    res = svc.wait(qid, timeout_s=float(runtime.settings.query_timeout_s) + 5)
    if res.status != "Complete":
        raise Invalid(f"the query did not complete ({res.status}): {res.error or 'no detail'}")
    view = props.get("view") if props.get("view") in bodies.LOG_VIEWS else "table"
    out: dict[str, Any] = {"view": view, "columns": res.columns, "rows": [list(r) for r in res.rows[:MAX_LOG_ROWS]],
                           "truncated": len(res.rows) > MAX_LOG_ROWS,
                           "explorer": url("/insights", q=rest, group=groups, run="1", **tr.params())}
    if view in ("timeSeries", "bar"):
        out["chart"] = chart_of(res.columns, res.rows)
        if out["chart"] is None:
            out["messages"] = ["this view needs a query grouped by bin(), e.g. stats count() by bin(5m); "
                               "the result is shown as a table"]
    elif view == "pie":
        out["messages"] = ["the pie view of log widgets is not supported; the result is shown as a table"]
    return out


def _alarm_widget(runtime: Any, props: dict[str, Any]) -> dict[str, Any]:
    from rexwatch.services.alarms import AlarmsService

    names = W.alarm_names(props.get("alarms") or [])[:100]
    found = {}
    if names:
        alarms, _ = runtime.service(AlarmsService).describe_alarms(names=names)
        found = {a.name: a for a in alarms}
    order = {"ALARM": 0, "INSUFFICIENT_DATA": 1, "OK": 2}
    rows = []
    for n in names:
        a = found.get(n)
        rows.append({"name": n, "url": f"/alarms/{quote(n, safe='')}",
                     "state": a.state_value if a else "MISSING",
                     "reason": a.state_reason if a else "no alarm with this name exists",
                     "updated": when(a.state_updated_at) if a else None,
                     "updated_ts": a.state_updated_at.timestamp() if a else 0})
    if props.get("sortBy") in ("stateUpdatedTimestamp", "timestamp"):
        rows.sort(key=lambda r: -r["updated_ts"])
    elif props.get("sortBy") != "default":
        rows.sort(key=lambda r: order.get(r["state"], 3))
    states = props.get("states") if isinstance(props.get("states"), list) else None
    if states:
        rows = [r for r in rows if r["state"] in states]
    return {"alarms": rows}


@router.get("/dashboards/{name}/widgets/{index}")
async def widget_data(request: Request, name: str, index: int) -> dict[str, Any]:
    _, doc = await call(_load, request, name)
    widgets = doc.get("widgets") if isinstance(doc.get("widgets"), list) else []
    if not 0 <= index < min(len(widgets), bodies.MAX_WIDGETS) or not isinstance(widgets[index], dict):
        raise NotFound(f"dashboard {name} has no widget {index}")
    variables = V.read(doc)
    w = V.apply(widgets[index], variables, V.chosen(variables, dict(request.query_params)))
    props = w.get("properties") if isinstance(w.get("properties"), dict) else {}
    tr, _ = dashboard_range(request, doc)
    runtime = request.app.state.runtime
    kind = w.get("type")
    if kind == "metric":
        data = await call(_metric_widget, runtime, props, tr, str(doc.get("periodOverride", "auto")))
    elif kind == "log":
        data = await call(_log_widget, runtime, props, tr)
    elif kind == "alarm":
        data = await call(_alarm_widget, runtime, props)
    else:
        raise Invalid(f"widget {index} is a {kind} widget: it has no data to fetch")
    return {"type": kind, **data}


NEW_BODY = '{\n  "widgets": [\n    {"type": "text", "width": 24, "height": 3,\n     "properties": {"markdown": "## New dashboard"}}\n  ]\n}'


def _pretty(text: str) -> str:
    doc = bodies.parse_or_none(text)
    return json.dumps(doc, indent=2) if doc is not None else text


@router.get("/dashboards/{name}/edit", response_class=HTMLResponse)
async def edit_page(request: Request, name: str) -> HTMLResponse:
    svc = request.app.state.runtime.service(DashboardsService)
    try:
        d = await call(svc.get, name)
        text, exists = _pretty(d.body), True
    except NotFound:
        text, exists = NEW_BODY, False
    response = templates.TemplateResponse(request, "dashboard_edit.html", {
        "name": name, "text": text, "exists": exists, "errors": [], "csrf": csrf_token(request)})
    return set_csrf_cookie(request, response)


@router.post("/dashboards/{name}/edit")
async def save_dashboard(request: Request, name: str) -> Response:
    """Save the edited body through PutDashboard; every validation error is shown with its path."""
    fields = await check_csrf(request)
    text = fields.get("body", "")
    svc = request.app.state.runtime.service(DashboardsService)
    try:
        warnings = await call(svc.put, name, text)
    except InvalidDashboard as e:
        return templates.TemplateResponse(request, "dashboard_edit.html", {
            "name": name, "text": text, "exists": True, "csrf": csrf_token(request),
            "errors": [(m.data_path or "/", m.message) for m in e.messages]}, status_code=400)
    except RexwatchError as e:
        return templates.TemplateResponse(request, "dashboard_edit.html", {
            "name": name, "text": text, "exists": True, "csrf": csrf_token(request),
            "errors": [("", e.message)]}, status_code=400)
    done = "Saved." + (f" {len(warnings)} warning(s): " + "; ".join(
        f"{m.data_path or '/'}: {m.message}" for m in warnings[:5]) if warnings else "")
    return RedirectResponse(url(f"/dashboards/{quote(name, safe='')}", done=done), status_code=303)


@router.get("/dashboards-new", response_model=None)
async def new_dashboard(request: Request, name: str = "") -> RedirectResponse | HTMLResponse:
    """The form on the list page: a new dashboard starts in the JSON editor (nothing exists until saved).
    A name the service refuses shows the list again with the message beside the box."""
    from rexwatch.services.dashboards.service import check_name

    try:
        check_name(name.strip())
    except RexwatchError:
        message = ("Give the new dashboard a name." if not name.strip() else
                   "A dashboard name is 1 to 255 letters, digits, dashes (-) and underscores (_).")
        svc = request.app.state.runtime.service(DashboardsService)
        entries, _ = await call(svc.list, None)
        return templates.TemplateResponse(request, "dashboards.html", {
            "entries": entries, "prefix": "", "problem": None, "when": when,
            "new_name": name[:300], "new_error": message}, status_code=400)
    return RedirectResponse(f"/dashboards/{quote(name.strip(), safe='')}/edit", status_code=303)


def _relayout(svc: DashboardsService, name: str, text: str) -> list[Any]:
    d = svc.get(name)
    doc = bodies.parse_or_none(d.body)
    places = bodies.parse_or_none(text)
    if not isinstance(doc, dict) or not isinstance(doc.get("widgets"), list):
        raise Invalid(f"the body of dashboard {name} has no widgets array")
    if not isinstance(places, list) or len(places) > bodies.MAX_WIDGETS:
        raise Invalid("layout must be a list of {index, x, y, width, height}", field="layout")
    widgets = doc["widgets"]
    for p in places:
        keys = ("x", "y", "width", "height")
        if not (isinstance(p, dict) and isinstance(p.get("index"), int) and 0 <= p["index"] < len(widgets)
                and isinstance(widgets[p["index"]], dict)
                and all(isinstance(p.get(k), int) and not isinstance(p.get(k), bool) for k in keys)):
            raise Invalid("layout must be a list of {index, x, y, width, height} of existing widgets",
                          field="layout")
        widgets[p["index"]].update({k: p[k] for k in keys})
    # PutDashboard checks the new places (0-23, widths 1-24, …) like any other body.
    return svc.put(name, bodies.dumps(doc))


@router.post("/dashboards/{name}/layout")
async def save_layout(request: Request, name: str) -> RedirectResponse:
    """Widgets moved and resized in the browser: their places written through PutDashboard."""
    fields = await check_csrf(request)
    svc = request.app.state.runtime.service(DashboardsService)
    try:
        await call(_relayout, svc, name, fields.get("layout", ""))
    except NotFound:
        raise
    except RexwatchError as e:
        return RedirectResponse(url(f"/dashboards/{quote(name, safe='')}", done=f"Layout not saved: {e.message}"),
                                status_code=303)
    return RedirectResponse(url(f"/dashboards/{quote(name, safe='')}", done="Layout saved."), status_code=303)

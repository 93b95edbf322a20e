"""Alarm pages: every alarm by state, and one alarm with its reason, mutes and history.

An alarm's page acknowledges, mutes for a while, unmutes and enables or disables its actions
(POST forms with a CSRF token, through AlarmsService). Notification emails link to
``/alarms/<name>``. With auth on, the pages need an API key like /api/v1 unless the
``public`` setting names ``ui`` (the gate in api/guard.py decides; browsers get a login
prompt that takes the key as password).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from rexwatch.api.routes.alarms import config_json
from rexwatch.errors import Invalid, NotFound, RexwatchError
from rexwatch.services.alarms import AlarmsService
from rexwatch.services.alarms.model import Alarm
from rexwatch.services.metrics import MetricsService
from rexwatch.services.metrics.model import MetricDataQuery, MetricId, MetricStatSpec
from rexwatch.web import templates
from rexwatch.web.alarm_form import (
    MISSING,
    create_composite_alarm,
    create_metric_alarm,
    edit_alarm,
    edit_form,
    editable,
    empty_form,
    failed_edit_form,
    failed_form,
)
from rexwatch.web.alarm_form import OPERATORS as FORM_OPERATORS
from rexwatch.web.alarm_form import STATISTICS as FORM_STATISTICS
from rexwatch.web.common import (
    RELATIVE,
    TimeRange,
    call,
    check_csrf,
    csrf_token,
    fmt_ms,
    set_csrf_cookie,
    time_range,
    url,
)
from rexwatch.web.downsample import chart_width, to_width
from rexwatch.web.metrics import chart_json, explorer_url, query_series

router = APIRouter(include_in_schema=False)
ORDER = {"ALARM": 0, "INSUFFICIENT_DATA": 1, "OK": 2}


def _list_ctx(svc: AlarmsService, state: str | None) -> dict[str, Any]:
    everything = []
    token = None
    for _ in range(100):  # bounded: 10,000 alarms
        page, token = svc.describe_alarms(types=["MetricAlarm", "CompositeAlarm"], next_token=token)
        everything += page
        if not token:
            break
    counts = {s: sum(1 for a in everything if a.state_value == s) for s in ORDER}
    shown = [a for a in everything if not state or a.state_value == state]
    shown.sort(key=lambda a: (ORDER.get(a.state_value, 9), a.name))
    return {"alarms": shown, "counts": counts, "state": state}


def _render_list(request: Request, state: str | None, form: dict[str, Any] | None = None,
                 status_code: int = 200) -> HTMLResponse:
    svc = request.app.state.runtime.service(AlarmsService)
    ctx = _list_ctx(svc, state)
    ctx.update({"metric_form": form if form and form["kind"] == "metric" else empty_form("metric"),
                "composite_form": form if form and form["kind"] == "composite" else empty_form("composite"),
                "open_kind": form["kind"] if form else None, "csrf": csrf_token(request),
                "form_operators": FORM_OPERATORS, "form_statistics": FORM_STATISTICS, "missing_choices": MISSING})
    response = templates.TemplateResponse(request, "alarms.html", ctx, status_code=status_code)
    return set_csrf_cookie(request, response)


@router.get("/alarms", response_class=HTMLResponse)
def alarms_page(request: Request, state: str | None = None) -> HTMLResponse:
    return _render_list(request, state)


@router.post("/alarms-create", response_model=None)
async def create_alarm(request: Request) -> HTMLResponse | RedirectResponse:
    """"Create alarm" on the alarms page: a metric alarm or a composite one, validated by the service.
    A refusal shows the page again with the form as typed and the message beside its field."""
    fields = await check_csrf(request)
    kind = "composite" if fields.get("kind") == "composite" else "metric"
    svc = request.app.state.runtime.service(AlarmsService)
    try:
        name = await call(create_composite_alarm if kind == "composite" else create_metric_alarm, svc, fields)
    except RexwatchError as e:
        return await call(_render_list, request, None, failed_form(kind, fields, e), 400)
    return RedirectResponse(url(f"/alarms/{quote(name, safe='')}", done=f"Alarm {name} created."), status_code=303)


def _queries(a: Alarm) -> list[MetricDataQuery]:
    """The alarm's metric (or its metric math) as GetMetricData queries."""
    c = a.config
    if not c.get("math"):
        stat = c.get("extended_statistic") or c.get("statistic") or "Average"
        spec = MetricStatSpec(MetricId(a.namespace or "", a.metric_name or "",
                                       tuple((d.name, d.value) for d in a.dimensions)),
                              int(c.get("period") or 60), stat, c.get("unit"))
        return [MetricDataQuery(id="m1", metric_stat=spec, label=a.metric_name)]
    out = []
    for q in c.get("metrics") or []:
        spec = None
        if q.metric_stat is not None:
            ms = q.metric_stat
            spec = MetricStatSpec(MetricId(ms.namespace or "", ms.metric_name or "",
                                           tuple((d.name, d.value) for d in ms.dimensions)),
                                  ms.period, ms.stat or "Average", ms.unit)
        out.append(MetricDataQuery(id=q.id or "m1", metric_stat=spec, expression=q.expression, label=q.label,
                                   return_data=q.return_data, period=q.period))
    return out


def _bands(svc: AlarmsService, a: Alarm, tr: TimeRange) -> list[dict[str, Any]]:
    """The alarm's states over the range, from its StateUpdate history: ``[{from, to, state}]`` (seconds)."""
    start = dt.datetime.fromtimestamp(tr.start_ms / 1000, dt.UTC)
    end = dt.datetime.fromtimestamp(tr.end_ms / 1000, dt.UTC)
    # The newest 100 transitions; when there were more, the bands start at the oldest one read.
    items, more = svc.describe_history(name=a.name, item_type="StateUpdate", start=start, end=end, max_records=100)
    items.sort(key=lambda h: h.timestamp)
    changes: list[tuple[float, str]] = []
    first = a.state_value
    for i, h in enumerate(items):
        try:
            d = json.loads(h.data)
            old, new = d["oldState"]["stateValue"], d["newState"]["stateValue"]
        except (ValueError, KeyError, TypeError):
            continue
        if i == 0:
            first = old
        changes.append((h.timestamp.timestamp(), new))
    out, at, state = [], tr.start_ms / 1000, first
    if more and changes:
        at, state = changes[0]
        changes = changes[1:]
    for t, new in changes:
        out.append({"from": at, "to": t, "state": state, "row": 0})
        at, state = t, new
    out.append({"from": at, "to": tr.end_ms / 1000, "state": state, "row": 0})
    return out


def _graph(runtime: Any, a: Alarm, tr: TimeRange, backtest: bool, width: int) -> dict[str, Any]:
    """The alarm's metric over the range with its threshold and state bands, and a backtest's states."""
    svc = runtime.service(AlarmsService)
    out: dict[str, Any] = {"graph_error": None, "backtest": None, "chart": None}
    if a.kind != "metric":
        return out
    try:
        data = query_series(runtime.service(MetricsService), _queries(a), tr.start_ms, tr.end_ms,
                            expression_ids=[q.id for q in _queries(a) if q.expression])
    except RexwatchError as e:
        out["graph_error"] = e.message
        return out
    # A long range is drawn at the chart's width with each pixel column's lowest and highest value,
    # so every crossing of the threshold still shows.
    data = to_width(data, width)
    threshold = a.config.get("threshold")
    data["thresholds"] = [{"label": "threshold", "value": threshold}] if threshold is not None else []
    data["bands"] = _bands(svc, a, tr)
    if backtest:
        try:
            moves = svc.backtest(a.name, tr.start_ms / 1000, tr.end_ms / 1000)
            out["backtest"] = moves
            at, state = tr.start_ms / 1000, "INSUFFICIENT_DATA"
            for m in moves:
                data["bands"].append({"from": at, "to": m.timestamp, "state": state, "row": 1})
                at, state = m.timestamp, m.new
            data["bands"].append({"from": at, "to": tr.end_ms / 1000, "state": state, "row": 1})
        except RexwatchError as e:
            out["graph_error"] = f"backtest not run: {e.message}"
    data["range"] = [tr.start_ms / 1000, tr.end_ms / 1000]
    out["chart"] = data
    out["chart_json"] = chart_json(data)
    return out


@router.get("/alarms/{name:path}", response_class=HTMLResponse)
async def alarm_page(request: Request, name: str, backtest: str = "") -> HTMLResponse:
    return await _render_alarm(request, name, bool(backtest))


async def _render_alarm(request: Request, name: str, backtest: bool = False, form: dict[str, Any] | None = None,
                        status_code: int = 200) -> HTMLResponse:
    runtime = request.app.state.runtime
    svc = runtime.service(AlarmsService)
    try:
        alarm = await call(svc.get, name)
    except NotFound:
        return templates.TemplateResponse(request, "alarm_missing.html", {"name": name}, status_code=404)
    tr, range_error = time_range(request, default="1d")
    graph = await call(_graph, runtime, alarm, tr, backtest, chart_width(request))
    explore = None
    if alarm.kind == "metric" and not alarm.config.get("math"):
        explore = explorer_url(alarm.namespace or "", alarm.metric_name or "",
                               [(d.name, d.value) for d in alarm.dimensions],
                               stat=alarm.config.get("extended_statistic") or alarm.config.get("statistic"),
                               period=alarm.config.get("period"), **tr.params())
    history, _ = await call(svc.describe_history, name=name, max_records=50)
    data = None
    if alarm.state_reason_data:
        try:
            data = json.dumps(json.loads(alarm.state_reason_data), indent=2)
        except ValueError:
            data = alarm.state_reason_data
    rules, _ = await call(svc.list_mute_rules, alarm_name=name, max_records=100)
    response = templates.TemplateResponse(
        request,
        "alarm.html",
        {
            "a": alarm,
            "history": history,
            "reason_data": data,
            "mute_rules": rules,
            "metrics": config_json(alarm).get("metrics"),
            "edit_form": form or (edit_form(alarm) if editable(alarm) else None),
            "form_operators": FORM_OPERATORS, "form_statistics": FORM_STATISTICS, "missing_choices": MISSING,
            "csrf": csrf_token(request),
            "done": request.query_params.get("done"),
            "problem": request.query_params.get("problem"),
            "tr": tr, "relative": RELATIVE, "range_error": range_error, "explore": explore,
            "backtest_on": backtest, "url": url, **graph,
            "fmt": lambda sec: fmt_ms(int(sec * 1000)),
        },
        status_code=status_code,
    )
    return set_csrf_cookie(request, response)


@router.post("/alarms-edit", response_model=None)
async def edit_alarm_form(request: Request) -> HTMLResponse | RedirectResponse:
    """"Edit alarm" on an alarm's page: the create form, prefilled, validated by the service as
    PutMetricAlarm (or PutCompositeAlarm). A refusal shows the page again with the form as typed and
    the message beside its field."""
    fields = await check_csrf(request)
    name = fields.get("name", "")
    svc = request.app.state.runtime.service(AlarmsService)
    try:
        await call(edit_alarm, svc, fields)
    except NotFound:
        return await _render_alarm(request, name)  # the page says the alarm does not exist (404)
    except RexwatchError as e:
        alarm = await call(svc.get, name)
        return await _render_alarm(request, name, form=failed_edit_form(alarm, fields, e), status_code=400)
    return RedirectResponse(url(f"/alarms/{quote(name, safe='')}", done="Saved."), status_code=303)


ACTIONS = ("ack", "mute", "unmute", "enable", "disable", "set-state")
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")


def _act(svc: AlarmsService, name: str, action: str, fields: dict[str, str]) -> str:
    """Do one action on an alarm; returns what to tell the user."""
    svc.get(name)  # NotFound before anything else
    if action == "ack":
        svc.acknowledge(name, fields.get("by", "").strip()[:128], fields.get("reason", "").strip()[:1024])
        return "Acknowledged."
    if action == "mute":
        rule = svc.mute([name], duration=fields.get("duration", "").strip() or "PT1H",
                        reason=fields.get("reason", "").strip()[:1024] or None)
        return f"Muted by rule {rule.name}."
    if action == "unmute":
        rule = fields.get("rule", "")
        rules, _ = svc.list_mute_rules(alarm_name=name, max_records=100)
        if rule not in {r.name for r in rules}:
            raise Invalid(f"mute rule {rule!r} does not mute this alarm", field="rule")
        svc.delete_mute_rule(rule)
        return f"Mute rule {rule} removed."
    if action == "set-state":
        state = fields.get("state", "")
        if state not in STATES:
            raise Invalid(f"state must be one of {', '.join(STATES)}", field="state")
        svc.set_alarm_state(name, state, fields.get("reason", "").strip()[:1023] or "set from the console")
        return f"State set to {state}."
    svc.set_actions_enabled([name], action == "enable")
    return f"Actions {action}d."


@router.post("/alarms-action")
async def alarm_action(request: Request) -> RedirectResponse:
    fields = await check_csrf(request)
    name, action = fields.get("name", ""), fields.get("action", "")
    if action not in ACTIONS:
        raise Invalid(f"action must be one of {', '.join(ACTIONS)}", field="action")
    svc = request.app.state.runtime.service(AlarmsService)
    try:
        done = await call(_act, svc, name, action, fields)
    except NotFound:
        raise
    except RexwatchError as e:
        return RedirectResponse(url(f"/alarms/{quote(name, safe='')}", problem=e.message), status_code=303)
    return RedirectResponse(url(f"/alarms/{quote(name, safe='')}", done=done), status_code=303)

"""Alarm pages: every alarm by state, and one alarm with its reason, mutes and history.

An alarm's page acknowledges, mutes for a while, unmutes and enables or disables its actions
(POST forms with a CSRF token, through AlarmsService). Notification emails link to
``/alarms/<name>``. With auth on, the pages need an API key like /api/v1 unless the
``public`` setting names ``ui`` (the gate in api/guard.py decides; browsers get a login
prompt that takes the key as password).
"""

from __future__ import annotations

import json
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from rexwatch.api.routes.alarms import config_json
from rexwatch.errors import Invalid, NotFound, RexwatchError
from rexwatch.services.alarms import AlarmsService
from rexwatch.web import templates
from rexwatch.web.common import call, check_csrf, csrf_token, set_csrf_cookie, url

router = APIRouter(include_in_schema=False)
ORDER = {"ALARM": 0, "INSUFFICIENT_DATA": 1, "OK": 2}


@router.get("/alarms", response_class=HTMLResponse)
def alarms_page(request: Request, state: str | None = None) -> HTMLResponse:
    svc = request.app.state.runtime.service(AlarmsService)
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
    return templates.TemplateResponse(
        request, "alarms.html", {"alarms": shown, "counts": counts, "state": state}
    )


@router.get("/alarms/{name:path}", response_class=HTMLResponse)
def alarm_page(request: Request, name: str) -> HTMLResponse:
    svc = request.app.state.runtime.service(AlarmsService)
    try:
        alarm = svc.get(name)
    except NotFound:
        return templates.TemplateResponse(request, "alarm_missing.html", {"name": name}, status_code=404)
    history, _ = svc.describe_history(name=name, max_records=50)
    data = None
    if alarm.state_reason_data:
        try:
            data = json.dumps(json.loads(alarm.state_reason_data), indent=2)
        except ValueError:
            data = alarm.state_reason_data
    rules, _ = svc.list_mute_rules(alarm_name=name, max_records=100)
    response = templates.TemplateResponse(
        request,
        "alarm.html",
        {
            "a": alarm,
            "history": history,
            "reason_data": data,
            "mute_rules": rules,
            "metrics": config_json(alarm).get("metrics"),
            "csrf": csrf_token(request),
            "done": request.query_params.get("done"),
            "problem": request.query_params.get("problem"),
        },
    )
    return set_csrf_cookie(request, response)


ACTIONS = ("ack", "mute", "unmute", "enable", "disable")


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

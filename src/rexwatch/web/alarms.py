"""Alarm pages: every alarm by state, and one alarm with its reason, mutes and history.

Read-only: changes go through the CLI, the REST API or the AWS door. Notification
emails link to ``/alarms/<name>``. With auth on, the pages need an API key like
/api/v1 unless the ``public`` setting names ``ui`` (the gate in api/guard.py decides;
browsers get a login prompt that takes the key as password).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from rexwatch.api.routes.alarms import config_json
from rexwatch.errors import NotFound
from rexwatch.services.alarms import AlarmsService
from rexwatch.web import templates

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
    return templates.TemplateResponse(
        request,
        "alarm.html",
        {
            "a": alarm,
            "history": history,
            "reason_data": data,
            "mute_rules": rules,
            "metrics": config_json(alarm).get("metrics"),
        },
    )

"""Ready-made security rules: editable templates that become log alarms.

Each template is a Logs Insights query with named holes (``{ip_field}``,
``{message}``, ...) and alarm settings; ``render`` fills them with the defaults
overridden by the caller's parameters and returns a ``LogAlarmDefinition``, so
an applied template is an ordinary log alarm that can be edited afterwards.
Field names are checked to be plain identifiers and text parameters are quoted,
so a parameter can never change the shape of the query.

The login templates read the runbook's log lines (``failed login attempt`` with
``user_id`` and ``ip_address``); the audit templates read audit events
(``actor``, ``action``, ``resource``, ``resource_id``, ``tenant_id``, ``ip``,
``at``, and optionally ``actor_role`` and ``details``) as documented in
docs/security-monitoring.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from rexwatch.errors import Invalid, NotFound
from rexwatch.services.alarms.model import Actions, LogAlarmDefinition, Tag

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
FIELD_PARAMS = {"ip_field", "user_field", "actor_field", "action_field", "resource_field", "role_field"}
TEXT_PARAMS = {"message", "log_group"}
INT_PARAMS = {"work_start_hour", "work_end_hour"}
LIST_PARAMS = {"resources"}
# Applied templates tag their alarm with the template's name and the field names it reads, so the
# console can tell which log groups hold logins or audit events, and in which fields.
TEMPLATE_TAG = "rexwatch:template"
SETTINGS = {"threshold", "every", "window", "block", "topic", "name", "description"}


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str
    query: str
    column: str
    group_by: tuple[str, ...]  # parameter names holding the group-by fields
    threshold: float
    every: int
    window: int
    block: str | None  # a block-ip duration, or None for rules that only notify
    params: dict[str, Any] = field(default_factory=dict)
    operator: str = "GreaterThanThreshold"

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "query": self.query,
            "value_column": self.column,
            "threshold": self.threshold,
            "comparison_operator": self.operator,
            "every": self.every,
            "window": self.window,
            "block": self.block,
            "params": dict(self.params),
        }


LOGIN = {"log_group": "/aws/ecs/utm-api", "ip_field": "ip_address", "user_field": "user_id"}
AUDIT = {"log_group": "/utm/audit", "actor_field": "actor", "action_field": "action",
         "resource_field": "resource"}

TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "brute-force",
            "Brute-force logins",
            "More than 5 failed logins from one IP in 5 minutes: alert and block the IP for an hour.",
            "filter @message like {message} and ispresent({ip_field}) "
            "| stats count() as attempts, count_distinct({user_field}) as users by {ip_field}",
            "attempts", ("ip_field",), 5, 60, 300, "1h",
            {**LOGIN, "message": "failed login attempt"},
        ),
        Template(
            "credential-stuffing",
            "Credential stuffing",
            "Failed logins for more than 10 different users from one IP in 10 minutes.",
            "filter @message like {message} and ispresent({ip_field}) "
            "| stats count_distinct({user_field}) as users, count() as attempts by {ip_field}",
            "users", ("ip_field",), 10, 60, 600, "1h",
            {**LOGIN, "message": "failed login attempt"},
        ),
        Template(
            "password-reset-burst",
            "Password-reset burst",
            "More than 10 password-reset requests from one IP in 10 minutes.",
            "filter @message like {message} and ispresent({ip_field}) "
            "| stats count() as resets, count_distinct({user_field}) as users by {ip_field}",
            "resets", ("ip_field",), 10, 60, 600, None,
            {**LOGIN, "message": "password reset requested"},
        ),
        Template(
            "privilege-escalation",
            "Privilege escalation",
            "Any UPDATE on roles or permissions within the hour.",
            "filter {action_field} = \"UPDATE\" and {resource_field} in {resources} "
            "| stats count() as changes by {actor_field}",
            "changes", ("actor_field",), 0, 300, 3600, None,
            {**AUDIT, "resources": ["roles", "permissions"]},
        ),
        Template(
            "mass-deletion",
            "Mass deletion",
            "More than 10 DELETEs by one actor within the hour.",
            "filter {action_field} = \"DELETE\" | stats count() as deletions by {actor_field}",
            "deletions", ("actor_field",), 10, 300, 3600, None,
            dict(AUDIT),
        ),
        Template(
            "off-hours-admin",
            "Off-hours admin activity",
            "Any action by an admin outside working hours (UTC) within the hour.",
            "fields floor((toMillis(@timestamp) % 86400000) / 3600000) as hour_utc "
            "| filter {role_field} = \"admin\" and (hour_utc < {work_start_hour} or hour_utc >= {work_end_hour}) "
            "| stats count() as actions by {actor_field}",
            "actions", ("actor_field",), 0, 300, 3600, None,
            {**AUDIT, "role_field": "actor_role", "work_start_hour": 7, "work_end_hour": 19},
        ),
        Template(
            "new-admin",
            "New admin created",
            "A user created, or changed, with the admin role within the hour.",
            "filter {action_field} in [\"CREATE\", \"UPDATE\"] and {resource_field} = \"users\" "
            "and details.role = \"admin\" | stats count() as admins_created by {actor_field}",
            "admins_created", ("actor_field",), 0, 300, 3600, None,
            dict(AUDIT),
        ),
    )
}


def get(name: str) -> Template:
    t = TEMPLATES.get(name)
    if t is None:
        raise NotFound(f"no template {name!r}; templates: {', '.join(TEMPLATES)}", field="template")
    return t


def _param(t: Template, key: str, value: Any) -> str:
    """The query text of one parameter, checked so it cannot change the query's shape."""
    if key in FIELD_PARAMS:
        if not isinstance(value, str) or not _FIELD.fullmatch(value):
            raise Invalid(f"{key} must be a field name like ip_address or details.ip", field=key)
        return value
    if key in INT_PARAMS:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 24:
            raise Invalid(f"{key} must be an hour 0-24", field=key)
        return str(value)
    if key in LIST_PARAMS:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise Invalid(f"{key} must be a list of strings", field=key)
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    if not isinstance(value, str) or not value or len(value) > 512:
        raise Invalid(f"{key} must be text of 1 to 512 characters", field=key)
    return json.dumps(value)


def render(name: str, params: dict[str, Any] | None = None) -> LogAlarmDefinition:
    """The log alarm a template makes with ``params`` (template parameters and the settings
    ``name``, ``description``, ``threshold``, ``every``, ``window``, ``block``, ``topic``)."""
    t = get(name)
    params = dict(params or {})
    unknown = sorted(set(params) - set(t.params) - SETTINGS)
    if unknown:
        raise Invalid(
            f"template {name} has no parameter {unknown[0]!r}; it takes "
            f"{', '.join(sorted(set(t.params) | SETTINGS))}", field=unknown[0],
        )
    values = {**t.params, **{k: v for k, v in params.items() if k in t.params}}
    filled = {k: _param(t, k, v) for k, v in values.items() if k != "log_group"}
    query = t.query.format(**filled)
    group_by = tuple(values[p] for p in t.group_by)
    topic = params.get("topic")
    block = params.get("block", t.block)
    alarm: list[str] = []
    if topic:
        alarm.append(str(topic))
    if block:
        alarm.append(f"block-ip:{block}")
    log_group = values["log_group"]
    if not isinstance(log_group, str) or not log_group:
        raise Invalid("log_group must name a log group", field="log_group")
    return LogAlarmDefinition(
        name=str(params.get("name") or name),
        log_group_names=(log_group,),
        query=query,
        every=params.get("every", t.every),
        window=params.get("window", t.window),
        column=t.column,
        threshold=float(params.get("threshold", t.threshold)),
        comparison_operator=t.operator,
        group_by=group_by,
        top_rows=10,
        ip_column=group_by[0] if block else None,
        description=str(params.get("description") or t.description),
        actions=Actions(alarm=tuple(alarm), ok=(str(topic),) if topic else ()),
        tags=(Tag(TEMPLATE_TAG, t.name),
              *(Tag(f"rexwatch:{k}", str(values[k])[:256]) for k in ("ip_field", "user_field", "message",
                                                                      "actor_field") if k in values)),
    )

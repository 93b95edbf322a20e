"""Who may do what: the one place every door asks (REST, AWS, console, telemetry intake).

A caller is a ``Principal``: a user signed in to the console, or an API key (which belongs
to a user or to a service account). Every request is classified as one ``action``:

- ``read``: look at anything but secrets;
- ``secrets``: read secrets (signing secrets of subscriptions, the development mailbox);
- ``ingest``: send telemetry (logs, metrics, traces of agents and SDKs);
- ``edit``: change alarms, monitors, dashboards, queries, subscriptions, mutes and acks;
- ``admin``: users, keys, settings, retention and deletion of data.

``ROLE_ACTIONS`` says which role may do which; a key's optional scope narrows its role
(``SCOPE_ACTIONS``). With auth off there is no principal and everything is allowed, as before.
The doors classify their own requests with ``rest_action``, ``aws_action`` and ``console_action``,
so the tables below are the whole policy; tests/test_access.py walks every route and operation.

Teams narrow what a caller sees, on top of the role: a log group or an alarm may belong to a
team, and a caller who is not an admin sees (reads, changes, lists) only resources of its teams
and resources of no team (``visible_teams``, ``may_see``, ``team_for_new``). The doors bind the
caller of each request with ``acting_as``; services ask ``caller()`` through these functions, so
a listing or a lookup by name cannot forget the check whichever door it came through. Work with
no caller bound (auth off, the background workers) sees everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from rexwatch.errors import Forbidden, Invalid

ROLES = ("viewer", "editor", "admin")
# The roles API keys had before users existed.
LEGACY_ROLES = {"user": "editor"}
SCOPES = ("ingest", "read")
ACTIONS = ("read", "secrets", "ingest", "edit", "admin")

ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "editor": frozenset({"read", "ingest", "edit"}),
    "admin": frozenset(ACTIONS),
}
SCOPE_ACTIONS: dict[str, frozenset[str]] = {
    "ingest": frozenset({"ingest"}),
    "read": frozenset({"read"}),
}


def check_role(role: str) -> str:
    role = LEGACY_ROLES.get(role, role)
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
    return role


def check_scope(scope: str | None) -> str | None:
    if scope in (None, "", "none"):
        return None
    if scope not in SCOPES:
        raise Invalid(f"scope must be one of {', '.join(SCOPES)} (or none)", field="scope")
    return scope


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" (console session) or "key"
    name: str  # the user name, or the key's owner / service account name
    role: str
    scope: str | None = None
    user_id: int | None = None
    key_prefix: str | None = None
    # Ids of the teams the user (or the key's user) belongs to; filled in when a door binds it.
    teams: frozenset[int] = frozenset()

    @property
    def actor(self) -> str:
        """How the audit trail names the caller."""
        if self.kind == "key":
            return f"key:{self.key_prefix}" + (f" ({self.name})" if self.name else "")
        return f"user:{self.name}"

    def may(self, action: str) -> bool:
        allowed = ROLE_ACTIONS.get(self.role, frozenset())
        if self.scope is not None:
            allowed = allowed & SCOPE_ACTIONS.get(self.scope, frozenset())
        return action in allowed


def authorize(principal: Principal | None, action: str, what: str) -> None:
    """Raise Forbidden unless ``principal`` may do ``action``; ``what`` names the request."""
    if action not in ACTIONS:  # a door classified a request wrongly: refuse rather than guess
        raise Forbidden(f"{what}: no permission is defined for it")
    if principal is None or principal.may(action):
        return
    scope = f" with scope {principal.scope!r}" if principal.scope else ""
    raise Forbidden(f"{principal.actor} has role {principal.role!r}{scope}: {what} needs {_needs(action)}")


# Teams ----------------------------------------------------------------------------------------

# Names the team of a new log group or alarm on the AWS protocols (CreateLogGroup ``tags``,
# PutMetricAlarm ``Tags``): AWS has no such parameter, and a tag travels through every client.
TEAM_TAG = "rexwatch:team"

_CALLER: ContextVar[Principal | None] = ContextVar("rexwatch_caller", default=None)


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    """Bind the caller of the request being served (the doors call this once per request)."""
    token = _CALLER.set(principal)
    try:
        yield
    finally:
        _CALLER.reset(token)


def bind(principal: Principal | None) -> None:
    """Bind the caller for the rest of the current task (an ASGI request's own task)."""
    _CALLER.set(principal)


def caller() -> Principal | None:
    return _CALLER.get()


_CURRENT: object = object()  # "the bound caller", as opposed to an explicit None (nobody)


def _who(principal: object) -> Principal | None:
    return caller() if principal is _CURRENT else principal  # type: ignore[return-value]


def visible_teams(principal: object = _CURRENT) -> frozenset[int] | None:
    """The teams whose resources the caller sees besides unowned ones; None: every resource.

    Admins see everything; so does work with no caller (auth off, background workers)."""
    p = _who(principal)
    if p is None or p.role == "admin":
        return None
    return p.teams


def sees_admin_only(principal: object = _CURRENT) -> bool:
    """Whether the caller sees what only admins read through any door (the audit log group)."""
    p = _who(principal)
    return p is None or p.role == "admin"


def may_see(team_id: int | None, principal: object = _CURRENT) -> bool:
    teams = visible_teams(principal)
    return team_id is None or teams is None or team_id in teams


def may_see_all(team_ids: Iterable[int | None], principal: object = _CURRENT) -> bool:
    teams = visible_teams(principal)
    return teams is None or all(t is None or t in teams for t in team_ids)


def team_for_new(named: int | None, team_name: str | None = None, principal: object = _CURRENT) -> int | None:
    """The team a new log group or alarm belongs to: the one named (the caller must be in it,
    unless an admin), else the caller's only team; unowned for admins, callers of no team and
    with auth off. A caller in several teams must name one, so nothing lands in the wrong team."""
    p = _who(principal)
    if named is not None:
        if p is None or p.role == "admin" or named in p.teams:
            return named
        raise Forbidden(f"{p.actor} is not a member of team {team_name or named!r}")
    if p is None or p.role == "admin" or not p.teams:
        return None
    if len(p.teams) == 1:
        return next(iter(p.teams))
    raise Invalid(f"{p.actor} belongs to several teams: name the team of the new resource with the tag "
                  f"{TEAM_TAG!r}", field="tags")


def _needs(action: str) -> str:
    roles = [r for r in ROLES if action in ROLE_ACTIONS[r]]
    return f"the {action!r} permission (role {' or '.join(roles)})"


# REST: (method, route template regex) -> action; the first match wins. Requests that match no
# row fall to the method: GET reads, everything else edits.
REST_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (m, re.compile(p), a)
    for m, p, a in (
        ("*", r"^/api/v1/(keys|users|audit|teams|sso)(/.*)?$", "admin"),
        ("*", r"^/api/v1/settings(/.*)?$", "admin"),
        ("DELETE", r"^/api/v1/logs/(groups|streams|retention)$", "admin"),
        ("PUT", r"^/api/v1/logs/retention$", "admin"),
        ("GET", r"^/api/v1/subscriptions/[^/]+/signing-secret$", "secrets"),
        ("GET", r"^/api/v1/mail(/.*)?$", "secrets"),
        ("*", r"^/api/v1/agent(/.*)?$", "ingest"),
        ("POST", r"^/api/v1/(write|push)$", "ingest"),  # Prometheus remote_write (the intake door)
        ("POST", r"^/api/v1/logs/(events|groups|streams)$", "ingest"),
        ("POST", r"^/api/v1/metrics/data$", "ingest"),
        # POSTs that only compute an answer.
        ("POST", r"^/api/v1/logs/(filter|filter-patterns/test)$", "read"),
        ("POST", r"^/api/v1/insights/queries$", "read"),
        ("DELETE", r"^/api/v1/insights/queries/[^/]+$", "read"),
        ("POST", r"^/api/v1/metrics/query$", "read"),
        ("POST", r"^/api/v1/alarms/[^/]+/backtest$", "read"),
        ("POST", r"^/api/v1/(security/)?templates/[^/]+/render$", "read"),
    )
)


def rest_action(method: str, route: str) -> str:
    method = method.upper()
    for m, pattern, action in REST_RULES:
        if (m == "*" or m == method) and pattern.match(route):
            return action
    return "read" if method in ("GET", "HEAD", "OPTIONS") else "edit"


# AWS operations. Reads are named by their verb; the rest are listed.
_AWS_READ = re.compile(r"^(Describe|List|Get|Filter|Test|StartQuery$|StopQuery$|StartLiveTail$)")
AWS_INGEST = frozenset({
    ("logs", "PutLogEvents"), ("logs", "CreateLogStream"), ("logs", "CreateLogGroup"),
    ("cloudwatch", "PutMetricData"),
})
AWS_ADMIN = frozenset({
    ("logs", "DeleteLogGroup"), ("logs", "DeleteLogStream"), ("logs", "PutRetentionPolicy"),
    ("logs", "DeleteRetentionPolicy"),
})
# Reads that return secrets: none of the implemented operations does today.
AWS_SECRETS: frozenset[tuple[str, str]] = frozenset()


def aws_action(service: str, operation: str) -> str:
    if (service, operation) in AWS_ADMIN:
        return "admin"
    if (service, operation) in AWS_INGEST:
        return "ingest"
    if (service, operation) in AWS_SECRETS:
        return "secrets"
    if _AWS_READ.match(operation):
        return "read"
    return "edit"


# The console: (method, path regex) -> action; the first match wins. Pages (GET) read and any other
# form edits; the rows name the exceptions and the forms that create or change monitoring config.
CONSOLE_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (m, re.compile(p), a)
    for m, p, a in (
        ("*", r"^/(users|audit|settings)", "admin"),
        # Everyone ends their own session and turns their own second factor on or off.
        ("*", r"^/logout$", "read"),
        ("*", r"^/account/", "read"),
        # Creating alarms (the alarms page's form, and from a graph in the metrics explorer) and
        # editing one in the same form on its page.
        ("POST", r"^/(alarms-create|alarms-edit|metrics/explorer/create-alarm)$", "edit"),
        # Target groups: one group's page reads; its forms create, edit, delete, (de)register targets.
        ("GET", r"^/monitors/target-groups/[^/]+$", "read"),
        ("POST", r"^/target-groups-action$", "edit"),
        # A log group page's fragments (fetched once it shows): its streams and stored bytes, its histogram.
        ("GET", r"^/logs/group/(streams|histogram)$", "read"),
    )
)


def console_action(method: str, path: str) -> str:
    """Console pages read; its forms edit (alarm mutes and acks, saved queries, ...)."""
    method = method.upper()
    for m, pattern, action in CONSOLE_RULES:
        if (m == "*" or m == method) and pattern.match(path):
            return action
    return "read" if method in ("GET", "HEAD") else "edit"

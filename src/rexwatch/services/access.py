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
"""

from __future__ import annotations

import re
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


def _needs(action: str) -> str:
    roles = [r for r in ROLES if action in ROLE_ACTIONS[r]]
    return f"the {action!r} permission (role {' or '.join(roles)})"


# REST: (method, route template regex) -> action; the first match wins. Requests that match no
# row fall to the method: GET reads, everything else edits.
REST_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (m, re.compile(p), a)
    for m, p, a in (
        ("*", r"^/api/v1/(keys|users|audit|sso)(/.*)?$", "admin"),
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


def console_action(method: str, path: str) -> str:
    """Console pages read; its forms edit (alarm mutes and acks, saved queries, ...)."""
    if path.startswith(("/users", "/audit", "/settings")):
        return "admin"
    if path == "/logout":  # everyone may end their own session
        return "read"
    return "read" if method.upper() in ("GET", "HEAD") else "edit"

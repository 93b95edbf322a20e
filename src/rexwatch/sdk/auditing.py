"""Audit events: one JSON line per change an application makes, in its own log group.

    import rexwatch.sdk as rw
    rw.configure(service="utm-api", audit_log_group="/utm/audit")
    rw.audit("UPDATE", "roles", actor="user-7", resource_id="3", tenant_id="t-1", ip=client_ip,
             details={"role": "admin"})

The fields are the ones rexwatch's audit rule templates read (privilege escalation, mass deletion,
off-hours admin activity, a new admin): ``actor``, ``action`` (upper case), ``resource``,
``resource_id``, ``tenant_id``, ``ip``, ``at``, and optionally ``actor_role`` and ``details``.
Audit lines skip request sampling (an audit trail with holes is no trail) and are queued like any
log line: the call never blocks on the network and never raises.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from rexwatch.sdk import context, state
from rexwatch.sdk.logs import dumps, iso

MAX_FIELD = 1024


def _text(value: Any) -> str:
    return "" if value is None else str(value)[:MAX_FIELD]


def audit_event(action: str, resource: str, *, actor: str, resource_id: Any = "", tenant_id: Any = "",
                ip: str | None = None, actor_role: str | None = None, details: Mapping[str, Any] | None = None,
                at: float | None = None) -> dict[str, Any]:
    """The event ``audit`` ships, as a dict (for apps that also keep it elsewhere)."""
    if not action or not resource or not actor:
        raise ValueError("an audit event needs an action, a resource and an actor")
    now = time.time() if at is None else at
    doc: dict[str, Any] = {
        "actor": _text(actor), "action": _text(action).upper(), "resource": _text(resource),
        "resource_id": _text(resource_id), "tenant_id": _text(tenant_id), "ip": _text(ip), "at": iso(now),
    }
    if actor_role:
        doc["actor_role"] = _text(actor_role)
    if details:
        doc["details"] = dict(details)
    ctx = context.current()
    if ctx is not None:
        doc["request_id"] = ctx.request_id
    return doc


def audit(action: str, resource: str, *, actor: str, resource_id: Any = "", tenant_id: Any = "",
          ip: str | None = None, actor_role: str | None = None, details: Mapping[str, Any] | None = None,
          group: str | None = None) -> bool:
    """Queue one audit event for the audit log group (``audit_log_group``, or ``group``).
    Returns False when it was not queued (the SDK is not configured, or its queue is full)."""
    sdk = state.sdk
    doc = audit_event(action, resource, actor=actor, resource_id=resource_id, tenant_id=tenant_id, ip=ip,
                      actor_role=actor_role, details=details)
    if sdk is None:
        return False
    target = group or sdk.config.audit_log_group or f"/app/{sdk.config.service}/audit"
    return sdk.sender.emit_log(target, int(time.time() * 1000), dumps(doc))

"""The audit trail: one JSON event per change, appended to a log group (setting ``audit_log_group``).

Events use the field names the audit rule templates read (docs/security-monitoring.md):
``actor``, ``action`` (CREATE, UPDATE, DELETE, LOGIN, ...), ``resource``, ``resource_id``,
``ip``, ``at``, ``actor_role`` and ``details``, plus ``door`` (rest, aws, console, cli),
``user_agent``, and ``before``/``after`` for configuration. Secrets are redacted before an
event leaves this module. Failed logins are written in the shape the brute-force template
reads (``failed login attempt`` with ``user_id`` and ``ip_address``).

Because the trail is a log group, Logs Insights, filter patterns, log alarms and the retention
setting all work on it; writing it never fails the change it records (it is logged instead).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from typing import Any

from rexwatch.errors import Conflict, Invalid, NotFound, RexwatchError
from rexwatch.services.access import Principal, acting_as

log = logging.getLogger("rexwatch.audit")

STREAM = "rexwatch"
# Keys whose values never reach the trail.
_SECRET = re.compile(r"(?i)(password|secret|token|api_?key|authorization|cookie|credential|private)")
REDACTED = "***"


def redact(value: Any, depth: int = 0) -> Any:
    if depth > 8:
        return "…"
    if isinstance(value, dict):
        return {k: (REDACTED if _SECRET.search(str(k)) and v not in (None, "") else redact(v, depth + 1))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, depth + 1) for v in value[:100]]
    if isinstance(value, str) and len(value) > 2000:
        return value[:2000] + "…"
    return value


class AuditService:
    def __init__(self, runtime) -> None:
        self.runtime = runtime

    @property
    def group(self) -> str:
        return self.runtime.settings.audit_log_group

    def record(self, principal: Principal | None, action: str, resource: str, *, resource_id: str = "",
               door: str, ip: str = "", user_agent: str = "", before: Any = None, after: Any = None,
               details: dict[str, Any] | None = None, actor: str | None = None,
               actor_role: str | None = None) -> dict[str, Any]:
        now = time.time()
        event: dict[str, Any] = {
            "actor": actor or (principal.actor if principal else "local"),
            "actor_role": actor_role or (principal.role if principal else "admin"),
            "action": action,
            "resource": resource,
            "resource_id": resource_id,
            "door": door,
            "ip": ip,
            "user_agent": user_agent[:300],
            "at": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        if before is not None:
            event["before"] = redact(before)
        if after is not None:
            event["after"] = redact(after)
        if details:
            event["details"] = redact(details)
        self._write([event], now)
        return event

    def failed_login(self, username: str, ip: str, user_agent: str, reason: str) -> None:
        now = time.time()
        self._write([{"msg": "failed login attempt", "user_id": username[:200], "ip_address": ip,
                      "user_agent": user_agent[:300], "reason": reason, "door": "console"}], now)

    def _write(self, events: list[dict[str, Any]], now: float) -> None:
        from rexwatch.services.logs import LogsService
        from rexwatch.services.logs.model import LogEventBatch

        logs = self.runtime.service(LogsService)
        batch = LogEventBatch.of([(int(now * 1000), json.dumps(e, separators=(",", ":"), default=str))
                                  for e in events])
        # Written as the server, not as the caller whose change it records: the trail belongs to no
        # team and is hidden from everyone but admins (rexwatch.services.access).
        with acting_as(None):
            self._put(logs, batch)

    def _put(self, logs, batch) -> None:
        try:
            try:
                logs.put_log_events(self.group, STREAM, batch)
            except NotFound:
                self._create(logs)
                logs.put_log_events(self.group, STREAM, batch)
        except RexwatchError as e:
            log.warning("audit events not written to %s: %s", self.group, e.message)

    def _create(self, logs) -> None:
        try:
            logs.create_log_group(self.group)
        except Conflict:
            pass
        else:
            days = self.runtime.settings.audit_retention_days
            if days:
                logs.put_retention_policy(self.group, days)
        try:
            logs.create_log_stream(self.group, STREAM)
        except Conflict:
            pass

    def recent(self, *, since_ms: int | None = None, pattern: str | None = None, limit: int = 100,
               group: str | None = None, until_ms: int | None = None) -> list[dict]:
        """The newest events first (at most ``limit``), parsed back into objects; ``group`` reads
        another audit log group (an application's) instead of rexwatch's own."""
        from rexwatch.services.logs import LogsService

        logs = self.runtime.service(LogsService)
        if group is None or group == self.group:
            # rexwatch's own trail is hidden from everyone but admins, and the doors let only admins
            # ask for it; an application's audit group is read as the caller (its team decides).
            with acting_as(None):
                return self._recent(logs, self.group, since_ms, until_ms, pattern, limit)
        return self._recent(logs, group, since_ms, until_ms, pattern, limit)

    def _recent(self, logs, group: str, since_ms: int | None, until_ms: int | None, pattern: str | None,
                limit: int) -> list[dict]:
        out: list[dict] = []
        token = None
        try:
            while True:
                page = logs.filter_log_events([group], start_ms=since_ms, end_ms=until_ms,
                                              pattern=pattern or None, limit=10_000, next_token=token)
                for e in page.events:
                    try:
                        item = json.loads(e.message)
                    except ValueError:
                        continue
                    item["timestamp"] = e.timestamp
                    out.append(item)
                token = page.next_token
                if not token or len(out) > 50_000:
                    break
        except NotFound:
            return []
        out.sort(key=lambda x: x["timestamp"], reverse=True)
        return out[:limit]


TIMELINE_FIELDS = ("actor", "action", "resource")


def timeline_pattern(filters: dict[str, str]) -> str | None:
    """A JSON filter pattern selecting events whose ``actor``/``action``/``resource`` equal the given
    values (``*`` in a value is a wildcard, as in any filter pattern); None without filters."""
    parts = []
    for name in TIMELINE_FIELDS:
        value = (filters.get(name) or "").strip()
        if not value:
            continue
        if len(value) > 200 or any(c in value for c in "\n\r"):
            raise Invalid(f"{name} must be one line of at most 200 characters", field=name)
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'($.{name} = "{quoted}")')
    return "{ " + " && ".join(parts) + " }" if parts else None

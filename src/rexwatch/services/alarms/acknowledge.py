"""Acknowledgement and re-notification (beyond CloudWatch): who is on it, and how often to remind."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rexwatch.errors import Conflict, Invalid, NotFound
from rexwatch.services.alarms.history import History, utc
from rexwatch.services.alarms.model import Alarm
from rexwatch.stores.control.alarms_repo import AlarmsRepo

if TYPE_CHECKING:
    from rexwatch.services.alarms.service import Context

MIN_RENOTIFY = 60


class Acknowledgements:
    def __init__(self, ctx: Context, repo: AlarmsRepo, history: History) -> None:
        self.ctx = ctx
        self.repo = repo
        self.history = history

    def _locked(self, conn, name: str) -> Alarm:
        a = self.repo.get(conn, name, for_update=True)
        if a is None:
            raise NotFound(f"Alarm {name} does not exist", field="AlarmName")
        return a

    def acknowledge(self, name: str, by: str, reason: str = "") -> Alarm:
        """Stop re-notification of an alarm in ALARM until it leaves ALARM (kept in history)."""
        if not by:
            raise Invalid("who acknowledges is required", field="by")
        now = self.ctx.now()
        with self.repo.begin() as conn:
            a = self._locked(conn, name)
            if a.state_value != "ALARM":
                raise Conflict(
                    f"Alarm {name} is {a.state_value}; only an alarm in ALARM can be acknowledged",
                    field="AlarmName",
                )
            self.repo.set_fields(
                conn, a.id, acked_at=utc(now), acked_by=by, ack_reason=reason, next_renotify_at=None
            )
            self.history.record(
                conn,
                name,
                a.alarm_type,
                now,
                "Action",
                f"Acknowledged by {by}" + (f": {reason}" if reason else ""),
                {
                    "actionState": "Acknowledged",
                    "by": by,
                    "reason": reason,
                    "stateUpdateTimestamp": int(now * 1000),
                },
            )
            return self._locked(conn, name)

    def set_renotify(self, name: str, interval: int | None) -> Alarm:
        """Re-send the ALARM notification every ``interval`` seconds while unacknowledged (None: never)."""
        if interval is not None and interval < MIN_RENOTIFY:
            raise Invalid(
                f"the re-notify interval is at least {MIN_RENOTIFY} seconds (or none)", field="interval"
            )
        now = self.ctx.now()
        with self.repo.begin() as conn:
            a = self._locked(conn, name)
            nxt = now + interval if interval and a.state_value == "ALARM" and a.acked_at is None else None
            self.repo.set_fields(conn, a.id, renotify_interval=interval, next_renotify_at=nxt)
            return self._locked(conn, name)

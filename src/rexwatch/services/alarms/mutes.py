"""Mute rules, acknowledgement and re-notification."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from rexwatch.errors import Conflict, Invalid, LimitExceeded, NotFound
from rexwatch.lang.schedule import Schedule, parse_schedule
from rexwatch.services.alarms.common import (
    _aware,
    _token,
    _ts,
    _untoken,
    log,
)
from rexwatch.services.alarms.model import (
    Alarm,
    MuteRule,
)
from rexwatch.services.alarms.mute import rule_status
from rexwatch.stores.control.tables.alarms import alarm_mute_rules, alarms


class MutesMixin:
    """Part of ``AlarmsService``; see ``service.py``."""

    # ------------------------------------------------------------ mute rules

    def _load_mute_rules(self, conn: Connection) -> list[tuple[Any, Schedule]]:
        out = []
        for r in conn.execute(select(alarm_mute_rules)):
            try:
                out.append((r, parse_schedule(r.expression, r.duration, r.timezone)))
            except Invalid:
                log.warning("mute rule %s has an invalid schedule", r.name)
        return out

    def _muting_rules(self, conn: Connection, now: float) -> dict[str, list[str]]:
        """Alarm name -> names of the mute rules active at ``now``."""
        at = _ts(now)
        out: dict[str, list[str]] = {}
        for r, sched in self._load_mute_rules(conn):
            if rule_status(sched, r.start_date, r.expire_date, at) == "ACTIVE":
                for n in r.alarm_names or []:
                    out.setdefault(n, []).append(r.name)
        return out

    def _mute_view(self, r: Any, now: float) -> MuteRule:
        sched = parse_schedule(r.expression, r.duration, r.timezone)
        return MuteRule(
            name=r.name,
            arn=self.mute_rule_arn(r.name),
            description=r.description,
            expression=r.expression,
            duration=r.duration,
            timezone=r.timezone,
            alarm_names=list(r.alarm_names or []),
            start_date=r.start_date,
            expire_date=r.expire_date,
            tags=list(r.tags or []),
            updated_at=r.updated_at,
            status=rule_status(sched, r.start_date, r.expire_date, _ts(now)),
            mute_type="RECURRING" if sched.recurring else "ONE_TIME",
        )

    def put_mute_rule(self, params: dict[str, Any]) -> None:
        name = params.get("Name")
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise Invalid("Name must be 1 to 255 characters", field="Name")
        sched = (params.get("Rule") or {}).get("Schedule") or {}
        if not sched.get("Expression") or not sched.get("Duration"):
            raise Invalid("Rule.Schedule needs Expression and Duration", field="Rule")
        parse_schedule(sched["Expression"], sched["Duration"], sched.get("Timezone"))
        targets = list((params.get("MuteTargets") or {}).get("AlarmNames") or [])
        if not targets:
            raise Invalid("MuteTargets.AlarmNames must name at least one alarm", field="MuteTargets")
        if len(targets) > 100:
            raise LimitExceeded("MuteTargets.AlarmNames accepts at most 100 alarms", field="MuteTargets")
        start, expire = params.get("StartDate"), params.get("ExpireDate")
        if start and expire and _aware(expire) <= _aware(start):
            raise Invalid("ExpireDate must be after StartDate", field="ExpireDate")
        values = dict(
            description=params.get("Description"),
            expression=sched["Expression"].strip(),
            duration=sched["Duration"],
            timezone=sched.get("Timezone") or "UTC",
            alarm_names=targets,
            start_date=_aware(start),
            expire_date=_aware(expire),
            tags=list(params.get("Tags") or []),
            updated_at=_ts(self.clock()),
        )
        with self.engine.begin() as conn:
            found = conn.execute(select(alarm_mute_rules.c.id).where(alarm_mute_rules.c.name == name)).first()
            if found:
                conn.execute(
                    update(alarm_mute_rules).where(alarm_mute_rules.c.id == found.id).values(**values)
                )
            else:
                conn.execute(insert(alarm_mute_rules).values(name=name, **values))

    def get_mute_rule(self, name: str) -> MuteRule:
        with self.engine.connect() as conn:
            r = conn.execute(select(alarm_mute_rules).where(alarm_mute_rules.c.name == name)).first()
        if r is None:
            raise NotFound(f"Alarm mute rule {name} does not exist", field="AlarmMuteRuleName")
        return self._mute_view(r, self.clock())

    def list_mute_rules(
        self,
        *,
        alarm_name: str | None = None,
        statuses: Sequence[str] | None = None,
        max_records: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[MuteRule], str | None]:
        limit = int(max_records or 50)
        after = _untoken(next_token)
        now = self.clock()
        with self.engine.connect() as conn:
            q = select(alarm_mute_rules).order_by(alarm_mute_rules.c.name)
            if after:
                q = q.where(alarm_mute_rules.c.name > after)
            rules = [self._mute_view(r, now) for r in conn.execute(q)]
        rules = [
            r
            for r in rules
            if (not alarm_name or alarm_name in r.alarm_names) and (not statuses or r.status in statuses)
        ]
        page = rules[:limit]
        return page, (_token(page[-1].name) if len(rules) > limit else None)

    def delete_mute_rule(self, name: str) -> None:
        with self.engine.begin() as conn:
            n = conn.execute(delete(alarm_mute_rules).where(alarm_mute_rules.c.name == name)).rowcount
        if not n:
            raise NotFound(f"Alarm mute rule {name} does not exist", field="AlarmMuteRuleName")

    def mute(
        self,
        alarm_names: Sequence[str],
        *,
        duration: str,
        name: str | None = None,
        reason: str | None = None,
        start: dt.datetime | None = None,
    ) -> MuteRule:
        """An ad-hoc maintenance window: mute ``alarm_names`` for ``duration`` from ``start`` (now)."""
        begin = _aware(start) or _ts(self.clock())
        rule_name = name or f"adhoc-{begin.strftime('%Y%m%dT%H%M%S')}"
        self.put_mute_rule(
            {
                "Name": rule_name,
                "Description": reason,
                "Rule": {
                    "Schedule": {
                        "Expression": f"at({begin.strftime('%Y-%m-%dT%H:%M')})",
                        "Duration": duration,
                    }
                },
                "MuteTargets": {"AlarmNames": list(alarm_names)},
            }
        )
        return self.get_mute_rule(rule_name)

    # ------------------------------------------------------------ acknowledge / re-notify

    def acknowledge(self, name: str, by: str, reason: str = "") -> Alarm:
        if not by:
            raise Invalid("who acknowledges is required", field="by")
        now = self.clock()
        with self.engine.begin() as conn:
            a = self._get(conn, name, for_update=True)
            if a.state_value != "ALARM":
                raise Conflict(
                    f"Alarm {name} is {a.state_value}; only an alarm in ALARM can be acknowledged",
                    field="AlarmName",
                )
            conn.execute(
                update(alarms)
                .where(alarms.c.id == a.id)
                .values(acked_at=_ts(now), acked_by=by, ack_reason=reason, next_renotify_at=None)
            )
            self._history(
                conn,
                name,
                a.kind,
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
            return self._get(conn, name)

    def set_renotify(self, name: str, interval: int | None) -> Alarm:
        if interval is not None and interval < 60:
            raise Invalid("the re-notify interval is at least 60 seconds (or none)", field="interval")
        now = self.clock()
        with self.engine.begin() as conn:
            a = self._get(conn, name, for_update=True)
            nxt = None
            if interval and a.state_value == "ALARM" and a.acked_at is None:
                nxt = now + interval
            conn.execute(
                update(alarms)
                .where(alarms.c.id == a.id)
                .values(renotify_interval=interval, next_renotify_at=nxt)
            )
            return self._get(conn, name)

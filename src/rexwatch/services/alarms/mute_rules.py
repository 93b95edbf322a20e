"""Mute rules (maintenance windows): definitions, their status, and which alarms they mute now.

The schedule language (``cron()``/``at()`` and ISO 8601 durations) is parsed in
``mute.py``; this module keeps the rules and answers "is this alarm muted at t?".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import Connection

from rexwatch.errors import Invalid, InvalidToken, LimitExceeded, NotFound
from rexwatch.lang.schedule import parse_schedule
from rexwatch.services.alarms.definitions import check_name, check_tags
from rexwatch.services.alarms.history import page_token, read_token, utc
from rexwatch.services.alarms.model import MuteRule, MuteRuleDefinition
from rexwatch.services.alarms.mute_status import rule_status
from rexwatch.stores.control.mutes_repo import MutesRepo, StoredMuteRule
from rexwatch.timeparse import as_utc

log = logging.getLogger("rexwatch.alarms")

MAX_TARGETS = 100
DEFAULT_PAGE = 50


class MuteRules:
    def __init__(self, repo: MutesRepo, clock: Callable[[], float], arn_of: Callable[[str], str]) -> None:
        self.repo = repo
        self.clock = clock
        self.arn_of = arn_of

    def muting(self, conn: Connection, now: float) -> dict[str, list[str]]:
        """Alarm name -> names of the mute rules active at ``now``."""
        at = utc(now)
        out: dict[str, list[str]] = {}
        for r in self.repo.all(conn):
            try:
                sched = parse_schedule(r.expression, r.duration, r.timezone)
            except Invalid:
                log.warning("mute rule %s has an invalid schedule", r.name)
                continue
            if rule_status(sched, r.start_date, r.expire_date, at) == "ACTIVE":
                for n in r.alarm_names:
                    out.setdefault(n, []).append(r.name)
        return out

    def _view(self, r: StoredMuteRule, now: float) -> MuteRule:
        sched = parse_schedule(r.expression, r.duration, r.timezone)
        return MuteRule(
            name=r.name,
            arn=self.arn_of(r.name),
            description=r.description,
            expression=r.expression,
            duration=r.duration,
            timezone=r.timezone,
            alarm_names=list(r.alarm_names),
            start_date=r.start_date,
            expire_date=r.expire_date,
            tags=list(r.tags),
            updated_at=r.updated_at,
            status=rule_status(sched, r.start_date, r.expire_date, utc(now)),
            mute_type="RECURRING" if sched.recurring else "ONE_TIME",
        )

    def put(self, d: MuteRuleDefinition) -> None:
        check_name(d.name, "Name")
        if not d.expression or not d.duration:
            raise Invalid("Rule.Schedule needs Expression and Duration", field="Rule")
        parse_schedule(d.expression, d.duration, d.timezone)
        targets = list(d.alarm_names)
        if not targets:
            raise Invalid("MuteTargets.AlarmNames must name at least one alarm", field="MuteTargets")
        if len(targets) > MAX_TARGETS:
            raise LimitExceeded(
                f"MuteTargets.AlarmNames accepts at most {MAX_TARGETS} alarms", field="MuteTargets"
            )
        start = as_utc(d.start_date) if d.start_date else None
        expire = as_utc(d.expire_date) if d.expire_date else None
        if start and expire and expire <= start:
            raise Invalid("ExpireDate must be after StartDate", field="ExpireDate")
        self.repo.put(
            StoredMuteRule(
                name=d.name,
                description=d.description,
                expression=d.expression.strip(),
                duration=d.duration,
                timezone=d.timezone or "UTC",
                alarm_names=targets,
                start_date=start,
                expire_date=expire,
                tags=check_tags(d.tags),
                updated_at=utc(self.clock()),
            )
        )

    def get(self, name: str) -> MuteRule:
        with self.repo.engine.connect() as conn:
            r = self.repo.get(conn, name)
        if r is None:
            raise NotFound(f"Alarm mute rule {name} does not exist", field="AlarmMuteRuleName")
        return self._view(r, self.clock())

    def list(
        self,
        *,
        alarm_name: str | None = None,
        statuses: Sequence[str] | None = None,
        max_records: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[MuteRule], str | None]:
        limit = int(max_records or DEFAULT_PAGE)
        after = read_token(next_token)
        if after is not None and not isinstance(after, str):
            raise InvalidToken("NextToken is not valid", field="NextToken")
        now = self.clock()
        with self.repo.engine.connect() as conn:
            rules = [self._view(r, now) for r in self.repo.all(conn, after=after)]
        rules = [
            r
            for r in rules
            if (not alarm_name or alarm_name in r.alarm_names) and (not statuses or r.status in statuses)
        ]
        page = rules[:limit]
        return page, (page_token(page[-1].name) if len(rules) > limit else None)

    def delete(self, name: str) -> None:
        if not self.repo.delete(name):
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
        begin = as_utc(start) if start else utc(self.clock())
        rule_name = name or f"adhoc-{begin.strftime('%Y%m%dT%H%M%S')}"
        self.put(
            MuteRuleDefinition(
                name=rule_name,
                expression=f"at({begin.strftime('%Y-%m-%dT%H:%M')})",
                duration=duration,
                alarm_names=tuple(alarm_names),
                description=reason,
            )
        )
        return self.get(rule_name)

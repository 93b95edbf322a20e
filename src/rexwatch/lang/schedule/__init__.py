"""Alarm mute rule schedules, as CloudWatch's PutAlarmMuteRule defines them.

``Expression`` is ``cron(Minutes Hours Day-of-month Month Day-of-week)`` for
recurring windows or ``at(yyyy-MM-ddThh:mm)`` for one window; ``Duration`` is
an ISO 8601 duration from PT1M to P15D; ``Timezone`` an IANA zone (UTC by
default). A schedule is active while ``now`` lies in
``[activation, activation + duration)`` for some activation.

The pipeline is the shared ``Lexer`` -> ``parser`` -> ``Schedule`` (the parsed
form, which also evaluates itself).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rexwatch.errors import Invalid
from rexwatch.lang.schedule.parser import parse_duration, parse_expression

__all__ = ["Schedule", "parse_duration", "parse_schedule"]


@dataclass(frozen=True)
class Schedule:
    expression: str
    duration: dt.timedelta
    tz: ZoneInfo
    at: dt.datetime | None = None
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    dom: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    dow: frozenset[int] = frozenset()
    dom_any: bool = True
    dow_any: bool = True

    @property
    def recurring(self) -> bool:
        return self.at is None

    def _day_matches(self, d: dt.date) -> bool:
        if d.month not in self.months:
            return False
        dom_ok = d.day in self.dom
        dow_ok = (d.isoweekday() % 7) in self.dow
        if self.dom_any and self.dow_any:
            return True
        if self.dom_any:
            return dow_ok
        if self.dow_any:
            return dom_ok
        return dom_ok or dow_ok  # classic cron: either restricted field matches

    def last_activation(self, now: dt.datetime) -> dt.datetime | None:
        """The latest activation at or before ``now`` within one duration, if any."""
        local = now.astimezone(self.tz)
        earliest = local - self.duration
        if self.at is not None:
            return self.at if earliest < self.at <= local else None
        day = local.date()
        while day >= earliest.date():
            if self._day_matches(day):
                for h in sorted(self.hours, reverse=True):
                    for mi in sorted(self.minutes, reverse=True):
                        cand = dt.datetime(day.year, day.month, day.day, h, mi, tzinfo=self.tz)
                        if cand <= local:
                            return cand if cand > earliest else None
            day -= dt.timedelta(days=1)
        return None

    def active(self, now: dt.datetime) -> bool:
        return self.last_activation(now) is not None


def parse_schedule(expression: str, duration: str, timezone: str | None = None) -> Schedule:
    """Parse a mute rule's schedule; a bad part raises ``QueryError`` pointing into it (``Invalid``
    for an unknown time zone)."""
    try:
        tz = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"Timezone {timezone!r} is not a known time zone", field="Timezone") from None
    td = parse_duration(duration)
    return Schedule((expression or "").strip(), td, tz, **parse_expression(expression, tz))

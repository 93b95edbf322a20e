"""Alarm mute rule schedules, as CloudWatch's PutAlarmMuteRule defines them.

``Expression`` is ``cron(Minutes Hours Day-of-month Month Day-of-week)`` for
recurring windows or ``at(yyyy-MM-ddThh:mm)`` for one window; ``Duration`` is
an ISO 8601 duration from PT1M to P15D; ``Timezone`` an IANA zone (UTC by
default). A rule mutes its alarms while ``now`` lies in
``[activation, activation + duration)`` for some activation, and within
``[StartDate, ExpireDate)`` when those are set.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rexwatch.errors import Invalid

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_duration(text: str) -> dt.timedelta:
    m = _DURATION.match(text or "")
    if not m or not any(m.groups()) or text.endswith("T"):
        raise Invalid(
            f"Duration {text!r} is not an ISO 8601 duration such as PT4H or P2DT12H", field="Duration"
        )
    d, h, mi, s = (int(g or 0) for g in m.groups())
    td = dt.timedelta(days=d, hours=h, minutes=mi, seconds=s)
    if not dt.timedelta(minutes=1) <= td <= dt.timedelta(days=15):
        raise Invalid(f"Duration {text!r} must be between PT1M and P15D", field="Duration")
    return td


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None, what: str) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, _, st = part.partition("/")
            if not st.isdigit() or int(st) < 1:
                raise Invalid(f"cron {what}: bad step {st!r}", field="Expression")
            step = int(st)

        def num(tok: str) -> int:
            tok_u = tok.upper()
            if names and tok_u in names:
                return names[tok_u]
            if not tok.isdigit():
                raise Invalid(f"cron {what}: {tok!r} is not a number or name", field="Expression")
            v = int(tok)
            if what == "day-of-week" and v == 7:
                v = 0
            if not lo <= v <= hi:
                raise Invalid(f"cron {what}: {v} is outside {lo}-{hi}", field="Expression")
            return v

        if part in ("*", "?"):
            a, b = lo, hi
        elif "-" in part:
            x, _, y = part.partition("-")
            a, b = num(x), num(y)
        else:
            a = b = num(part)
            if step > 1:
                b = hi
        out.update(range(a, b + 1, step))
    return frozenset(out)


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
    try:
        tz = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"Timezone {timezone!r} is not a known time zone", field="Timezone")
    td = parse_duration(duration)
    expr = (expression or "").strip()
    if expr.startswith("at(") and expr.endswith(")"):
        try:
            at = dt.datetime.strptime(expr[3:-1], "%Y-%m-%dT%H:%M").replace(tzinfo=tz)
        except ValueError:
            raise Invalid(f"Expression {expression!r}: at() takes yyyy-MM-ddThh:mm", field="Expression")
        return Schedule(expr, td, tz, at=at)
    if expr.startswith("cron(") and expr.endswith(")"):
        parts = expr[5:-1].split()
        if len(parts) != 5:
            raise Invalid(
                f"Expression {expression!r}: cron() takes 5 fields (minutes hours day-of-month month day-of-week)",
                field="Expression",
            )
        mi, h, dom, mon, dow = parts
        return Schedule(
            expr,
            td,
            tz,
            minutes=_field(mi, 0, 59, None, "minutes"),
            hours=_field(h, 0, 23, None, "hours"),
            dom=_field(dom, 1, 31, None, "day-of-month"),
            months=_field(mon, 1, 12, _MONTHS, "month"),
            dow=_field(dow, 0, 6, _DAYS, "day-of-week"),
            dom_any=dom in ("*", "?"),
            dow_any=dow in ("*", "?"),
        )
    raise Invalid(
        f"Expression {expression!r} must be cron(m h dom mon dow) or at(yyyy-MM-ddThh:mm)", field="Expression"
    )


def rule_status(
    schedule: Schedule, start: dt.datetime | None, expire: dt.datetime | None, now: dt.datetime
) -> str:
    """SCHEDULED, ACTIVE or EXPIRED, as ListAlarmMuteRules reports."""
    if expire is not None and now >= expire:
        return "EXPIRED"
    if schedule.at is not None and now >= schedule.at + schedule.duration:
        return "EXPIRED"
    if (start is None or now >= start) and schedule.active(now):
        return "ACTIVE"
    return "SCHEDULED"

"""Alarm mute rule status: whether a rule's schedule (``rexwatch.lang.schedule``) is
SCHEDULED, ACTIVE or EXPIRED at a given time, within ``[StartDate, ExpireDate)`` when those are set.
"""

from __future__ import annotations

import datetime as dt

from rexwatch.lang.schedule import Schedule


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

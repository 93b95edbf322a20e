"""Mute rule schedules: cron and at() windows with durations and time zones."""

from __future__ import annotations

import datetime as dt

import pytest

from rexwatch.errors import Invalid
from rexwatch.lang.schedule import parse_schedule
from rexwatch.services.alarms.mute_status import rule_status

UTC = dt.UTC


def t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=UTC) if "+" not in s else dt.datetime.fromisoformat(s)


def test_nightly_cron_window():
    s = parse_schedule("cron(0 2 * * *)", "PT2H")
    assert not s.active(t("2026-11-26T01:59:00"))
    assert s.active(t("2026-11-26T02:00:00"))
    assert s.active(t("2026-11-26T03:59:59"))
    assert not s.active(t("2026-11-26T04:00:00"))


def test_weekend_window_spans_days_and_respects_weekday():
    s = parse_schedule("cron(0 18 * * FRI)", "P2DT12H")  # Fri 18:00 -> Mon 06:00
    assert s.active(t("2026-11-29T12:00:00"))  # Sunday
    assert s.active(t("2026-11-30T05:59:00"))  # Monday early
    assert not s.active(t("2026-11-30T06:00:00"))
    assert not s.active(t("2026-11-26T19:00:00"))  # Thursday


def test_timezone_is_applied():
    s = parse_schedule("cron(0 2 * * *)", "PT1H", "America/New_York")
    assert s.active(t("2026-11-26T07:30:00"))  # 02:30 in New York (EST, UTC-5)
    assert not s.active(t("2026-11-26T02:30:00"))


def test_one_time_window_and_status():
    s = parse_schedule("at(2026-12-23T00:00)", "P7D")
    assert rule_status(s, None, None, t("2026-12-22T23:00:00")) == "SCHEDULED"
    assert rule_status(s, None, None, t("2026-12-25T00:00:00")) == "ACTIVE"
    assert rule_status(s, None, None, t("2026-12-30T00:00:00")) == "EXPIRED"
    nightly = parse_schedule("cron(0 2 * * *)", "PT2H")
    assert rule_status(nightly, t("2027-01-01T00:00:00"), None, t("2026-11-26T02:30:00")) == "SCHEDULED"
    assert rule_status(nightly, None, t("2026-11-01T00:00:00"), t("2026-11-26T02:30:00")) == "EXPIRED"


@pytest.mark.parametrize(
    "expr, duration, tz, fragment",
    [
        ("cron(0 2 * *)", "PT1H", None, "5 fields"),
        ("cron(61 2 * * *)", "PT1H", None, "outside 0-59"),
        ("every day", "PT1H", None, "must be cron"),
        ("cron(0 2 * * *)", "PT30S", None, "between PT1M and P15D"),
        ("cron(0 2 * * *)", "P16D", None, "between PT1M and P15D"),
        ("cron(0 2 * * *)", "2 hours", None, "ISO 8601"),
        ("cron(0 2 * * *)", "PT1H", "Mars/Olympus", "time zone"),
        ("at(2026-13-01T00:00)", "PT1H", None, "yyyy-MM-dd"),
    ],
)
def test_bad_schedules_say_what_is_wrong(expr, duration, tz, fragment):
    with pytest.raises(Invalid) as e:
        parse_schedule(expr, duration, tz)
    assert fragment in e.value.message


def test_schedule_errors_point_into_the_expression():
    with pytest.raises(Invalid) as e:
        parse_schedule("cron(0 2 * * FRX)", "PT1H")
    assert e.value.start == 13 and e.value.end == 16 and e.value.field == "Expression"
    with pytest.raises(Invalid) as e:
        parse_schedule("cron(0 2/x * * *)", "PT1H")
    assert "bad step 'x'" in e.value.detail and e.value.start == 9
    with pytest.raises(Invalid) as e:
        parse_schedule("cron(0 2 * * *)", "PT1X")
    assert e.value.field == "Duration"

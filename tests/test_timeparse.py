import datetime as dt

import pytest

from rexwatch.errors import Invalid
from rexwatch.timeparse import parse_duration, parse_time, to_millis

NOW = dt.datetime(2024, 11, 25, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-11-25T10:00:00Z", dt.datetime(2024, 11, 25, 10, tzinfo=dt.UTC)),
        ("2024-11-25T10:00:00+01:00", dt.datetime(2024, 11, 25, 9, tzinfo=dt.UTC)),
        ("1732528800", dt.datetime(2024, 11, 25, 10, tzinfo=dt.UTC)),
        ("1732528800000", dt.datetime(2024, 11, 25, 10, tzinfo=dt.UTC)),
        ("1h", NOW - dt.timedelta(hours=1)),
        ("30m", NOW - dt.timedelta(minutes=30)),
        ("2d", NOW - dt.timedelta(days=2)),
        ("10s", NOW - dt.timedelta(seconds=10)),
        ("now", NOW),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text, now=NOW) == expected


def test_bad_times_are_clear():
    with pytest.raises(Invalid, match="not a time"):
        parse_time("yesterday-ish", now=NOW)
    with pytest.raises(Invalid, match="duration"):
        parse_duration("5 parsecs")


def test_to_millis():
    assert to_millis(dt.datetime(2024, 11, 25, 10, tzinfo=dt.UTC)) == 1732528800000

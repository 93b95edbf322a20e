"""Time arguments: ISO-8601, epoch seconds or milliseconds, or a relative duration.

``parse_time("1h")`` is one hour ago; ``parse_time("2024-11-25T10:00:00Z")``
is that instant; ``parse_time("1732528800")`` epoch seconds and
``parse_time("1732528800000")`` epoch milliseconds. All results are aware UTC.
"""

from __future__ import annotations

import datetime as dt
import re

from rexwatch.errors import Invalid

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_REL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)\s*(ago)?\s*$")


def parse_duration(text: str) -> dt.timedelta:
    m = _REL.match(text.lower())
    if not m:
        raise Invalid(f"{text!r} is not a duration like 10s, 30m, 1h, 2d or 1w")
    return dt.timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)[0]])


def parse_time(text: str | int | float, *, now: dt.datetime | None = None) -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC)
    if isinstance(text, int | float):
        return from_epoch(text)
    s = str(text).strip()
    if not s:
        raise Invalid("empty time")
    if s.lower() == "now":
        return now
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return from_epoch(float(s))
    if _REL.match(s.lower()):
        return now - parse_duration(s)
    try:
        value = dt.datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Invalid(f"{text!r} is not a time: use ISO-8601, epoch seconds or milliseconds, or 10m/1h/2d")
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# The instants a datetime can hold (years 1 to 9999), in epoch seconds.
_EPOCH_MIN, _EPOCH_MAX = -62135596800, 253402300799


def from_epoch(value: float) -> dt.datetime:
    given = value
    # Values beyond year 2286 in seconds are milliseconds.
    if abs(value) > 1e10:
        value = value / 1000
    # Outside years 1-9999 (or NaN) fromtimestamp raises ValueError/OverflowError/OSError, a 500.
    if not _EPOCH_MIN <= value <= _EPOCH_MAX:
        raise Invalid(f"{given!r} is not a time between the years 1 and 9999")
    return dt.datetime.fromtimestamp(value, dt.UTC)


def to_millis(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def as_utc(t: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already (as AWS does)."""
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)

"""HTTP status matchers as ELB writes them: a code, a list (``200,202``) or a range (``200-299``)."""

from __future__ import annotations

import re

from rexwatch.errors import Invalid

_PART = re.compile(r"^\s*(\d{3})\s*(?:-\s*(\d{3}))?\s*$")


def parse_matcher(spec: str | int, field: str = "matcher") -> tuple[tuple[int, int], ...]:
    """Parse into inclusive ranges; raise Invalid naming the bad part."""
    text = str(spec).strip()
    if not text:
        raise Invalid(f"{field} must not be empty", field=field)
    ranges = []
    for part in text.split(","):
        m = _PART.match(part)
        if not m:
            raise Invalid(f"{field}: {part.strip()!r} is not a status code or range like 200-299", field=field)
        lo = int(m.group(1))
        hi = int(m.group(2) or lo)
        if not (100 <= lo <= hi <= 599):
            raise Invalid(f"{field}: {part.strip()!r} is not a range of codes between 100 and 599", field=field)
        ranges.append((lo, hi))
    return tuple(ranges)


def matches(ranges: tuple[tuple[int, int], ...], code: int) -> bool:
    return any(lo <= code <= hi for lo, hi in ranges)

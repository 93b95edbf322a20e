"""Hypothesis strategies for hostile input, shared by the tests/test_hostile_*.py suite.

The strategies are built from the request shapes botocore ships (and, for the REST API,
from the OpenAPI document), so every member an operation accepts gets awkward values:
quotes, backslash, NUL, control characters, non-BMP unicode, very long strings, numbers and
timestamps at their extremes, empty and oversized lists.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

# Examples per property; CI uses the default, a deeper local run sets REXWATCH_HOSTILE_EXAMPLES.
EXAMPLES = int(os.environ.get("REXWATCH_HOSTILE_EXAMPLES", "0")) or None


def hostile_settings(max_examples: int) -> settings:
    """Bounded, reproducible runs: the same examples on every CI machine, no per-example deadline
    (a loaded 2-core machine is slow, not wrong)."""
    return settings(
        max_examples=EXAMPLES or max_examples,
        deadline=None,
        derandomize=EXAMPLES is None,
        database=None,
        # CI reports the first failing example as found (shrinking a server round trip at a time
        # can take minutes); a local run with REXWATCH_HOSTILE_EXAMPLES set shrinks it.
        phases=list(Phase) if EXAMPLES else [Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# Single characters that break naive quoting, escaping, framing or encoding somewhere.
AWKWARD_CHARS = ["'", '"', "\\", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "%", "&", "<", ">", ";", "`",
                 "$", "{", "}", "*", "?", "/", ":", "#", "é", "ß", "漢", "😀", "\u2028", "\ufeff", "\u0301",
                 "²", "٣"]  # digits to str.isdigit, not to int()
# Whole strings with a known meaning to some layer (SQL, templates, paths, numbers).
AWKWARD_STRINGS = ["", " ", "'", "\\", "\\'", "''", '"', "{db}", "%s", "${x}", "null", "NaN", "-1",
                   "1e999", "../..", "a\x00b", "\\N", "é漢😀", "' OR '1'='1", "\t\n", "*", "[]", "{}",
                   "²", "99999999999999999999", "-0", "1" * 400]
LONG = 70_000  # past every 16-bit length and past every AWS name limit


def awkward_text(max_size: int = 24, long: bool = True) -> st.SearchStrategy[str]:
    """Awkward strings; ``long`` adds one of 70,000 characters (only where one such string per
    request is meant: repeated in lists it would make every request megabytes)."""
    chars = st.one_of(st.sampled_from(AWKWARD_CHARS),
                      st.characters(codec="utf-8", exclude_categories=["Cs"]))
    lengths = [256, 513, 1025] + ([LONG] if long else [])
    return st.one_of(
        st.sampled_from(AWKWARD_STRINGS),
        st.text(alphabet=chars, max_size=max_size),
        st.builds(lambda c, n: c * n, st.sampled_from(["x", "'", "\\", "é"]), st.sampled_from(lengths)),
    )


INT_EXTREMES = [0, 1, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63 - 1, -(2**63), 2**64]
FLOAT_EXTREMES = [0.0, -0.0, 1e-300, 5e-324, -1e308, 1e308, 2.0**53 + 1, float("nan"), float("inf"),
                  float("-inf")]
# The widest datetimes a client library can serialise, and instants around the epoch.
TIME_EXTREMES = [dt.datetime(1, 1, 1, tzinfo=dt.UTC), dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
                 dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
                 dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=dt.UTC)]


def recent_times() -> st.SearchStrategy[dt.datetime]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return st.integers(-30 * 86400, 3600).map(lambda s: now + dt.timedelta(seconds=s))


Hints = dict[str, st.SearchStrategy[Any]]


def from_shape(shape: Any, hints: Hints | None = None, depth: int = 0, valid: bool = False) -> st.SearchStrategy[Any]:
    """Values for a botocore shape: hostile ones, or (``valid``) ones inside the documented bounds.

    ``hints`` maps member names to strategies of meaningful values (an existing log group...),
    mixed in so that requests get past "not found" and into the code behind it.
    """
    hints = hints or {}
    t = shape.type_name
    if depth > 8:  # no botocore shape we serve nests deeper; stop recursive ones here
        return st.just({} if t in ("structure", "map") else [] if t == "list" else "")
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if t == "structure":
        req, opt = {}, {}
        for name, member in shape.members.items():
            s = from_shape(member, hints, depth + 1, valid)
            if name in hints:
                s = hints[name] if valid else st.one_of(hints[name], s)
            (req if name in shape.required_members else opt)[name] = s
        return st.fixed_dictionaries(req, optional=opt)
    if t == "list":
        item = from_shape(shape.member, hints, depth + 1, valid)
        if valid:
            return st.lists(item, min_size=lo or 0, max_size=max(lo or 0, min(hi or 3, 3)))
        choices = [st.lists(item, max_size=3), st.just([])]
        if hi is not None and hi <= 50:
            # One past the documented maximum, the same element repeated (cheap to build).
            choices.append(item.map(lambda x, n=hi + 1: [x] * n))
        return st.one_of(*choices)
    if t == "map":
        key = st.text(NAME_CHARS, min_size=1, max_size=12) if valid else awkward_text(12, long=False)
        return st.dictionaries(key, from_shape(shape.value, hints, depth + 1, valid), max_size=3)
    if t == "string":
        enum = list(shape.enum or [])
        if valid:
            if enum:
                return st.sampled_from(enum)
            return st.text(NAME_CHARS, min_size=max(lo or 0, 1), max_size=max(lo or 1, min(hi or 24, 24)))
        choices: list[st.SearchStrategy[Any]] = [awkward_text(long=depth <= 1)]
        if enum:
            choices.insert(0, st.sampled_from(enum))
        if hi is not None and hi < 2048:
            choices.append(st.just("x" * (hi + 1)))
        if lo:
            choices.append(st.just("x" * (lo - 1)))
        return st.one_of(*choices)
    if t in ("integer", "long"):
        if valid:
            return st.integers(lo if lo is not None else 0, hi if hi is not None else 1000)
        edges = [v for v in (lo, hi) if v is not None]
        edges += [v + d for v in edges for d in (-1, 1)]
        return st.one_of(st.integers(-1000, 1000), st.sampled_from(INT_EXTREMES + edges))
    if t in ("double", "float"):
        if valid:
            return st.floats(-1e9, 1e9, allow_nan=False)
        return st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(FLOAT_EXTREMES))
    if t == "boolean":
        return st.booleans()
    if t == "timestamp":
        return recent_times() if valid else st.one_of(recent_times(), st.sampled_from(TIME_EXTREMES))
    if t == "blob":
        return st.binary(max_size=64)
    raise AssertionError(f"no strategy for shape type {t}")


# Names in "valid" requests still carry the characters that break naive quoting.
NAME_CHARS = st.one_of(st.sampled_from("abcxyz019-_./#"), st.sampled_from(["'", '"', "\\", " ", "é", "漢"]))


def _mutate(draw: Any, value: Any, shape: Any, depth: int = 0) -> Any:
    """``value`` with one member somewhere inside replaced by a hostile value of its shape."""
    t = shape.type_name
    inner = []
    if t == "structure" and isinstance(value, dict):
        inner = list(shape.members)
    elif t == "list" and isinstance(value, list) and value:
        inner = list(range(len(value)))
    if not inner or (depth and draw(st.booleans())):
        return draw(from_shape(shape, {}, depth))
    key = draw(st.sampled_from(inner))
    if t == "structure":
        member = shape.members[key]
        if key not in value:
            return {**value, key: draw(from_shape(member, {}, depth + 1))}
        return {**value, key: _mutate(draw, value[key], member, depth + 1)}
    out = list(value)
    out[key] = _mutate(draw, value[key], shape.member, depth + 1)
    return out


def request_strategy(shape: Any, hints: Hints, base: st.SearchStrategy[Any] | None = None
                     ) -> st.SearchStrategy[dict[str, Any]]:
    """A request that is hostile throughout, valid throughout, or valid but for one member somewhere.

    ``base`` is a strategy of valid requests for operations whose rules a shape does not tell
    (which members go together); without it the valid requests are built from the shape's bounds.
    """
    if shape is None:
        return st.just({})
    valid = base if base is not None else from_shape(shape, hints, valid=True)
    hostile = from_shape(shape, hints)

    @st.composite
    def one_bad(draw: Any) -> dict[str, Any]:
        return _mutate(draw, draw(valid), shape)

    return st.one_of(valid, hostile, one_bad())

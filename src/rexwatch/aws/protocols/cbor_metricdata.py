"""PutMetricData's decoded CBOR body, converted and type-checked in one pass over its items.

The generic CBOR codec walks a decoded body with the input shape (timestamps to
datetimes, integers to floats), and the door then walks it again to check every
member's type (``validate.check``): two walks over some 10,000 values in a
1,000-item call. This pass does both for the members a plain item has
(MetricName, Dimensions, Timestamp, Value, Values, Counts, Unit,
StorageResolution), in place on the freshly decoded objects. The handler then takes the
items into the metrics service's columns field by field with C-level ``map``
(``_columns``), not item by item.

It answers only for bodies it converts exactly as the generic walk does and that the
type check would pass: anything else (StatisticValues, EntityMetricData, a null member,
a member of the wrong type, an unknown member …) returns None and the generic walk
and the type check run, so their errors and messages are unchanged.
``tests/test_metricdata_readers.py`` checks both give the same parameters.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from itertools import accumulate, chain, repeat
from operator import itemgetter
from typing import Any

from rexwatch.aws.protocols import from_epoch
from rexwatch.aws.validate import ColumnarParams
from rexwatch.services.metrics.model import FUTURE_LIMIT, PAST_LIMIT, MetricColumns

_SPECIAL_FLOATS = ("NaN", "Infinity", "-Infinity")
_TOP = frozenset({"Namespace", "MetricData"})
_STR, _NUM, _TIME, _INT, _DIMS, _NUMS = range(6)
_KINDS = {
    "MetricName": _STR,
    "Unit": _STR,
    "Value": _NUM,
    "Timestamp": _TIME,
    "StorageResolution": _INT,
    "Dimensions": _DIMS,
    "Values": _NUMS,
    "Counts": _NUMS,
}


class _Unreadable(Exception):
    """The body needs the generic walk."""


def _number(v: Any) -> float | str:
    t = type(v)
    if t is float:
        return v
    if t is int:
        return float(v)
    if t is str and v in _SPECIAL_FLOATS:
        return v
    raise _Unreadable


def _time(v: Any) -> dt.datetime:
    t = type(v)
    if t is dt.datetime:
        return v if v.tzinfo else v.replace(tzinfo=dt.UTC)
    if t is int or t is float:
        try:
            return from_epoch(v)
        except ValueError:
            raise _Unreadable
    raise _Unreadable


def _dimension(d: Any) -> None:
    if type(d) is not dict:
        raise _Unreadable
    for k, v in d.items():
        if (k != "Name" and k != "Value") or type(v) is not str:
            raise _Unreadable


_NAME_VALUE = itemgetter("Name", "Value")
_RESOLUTIONS = frozenset({None, 1, 60})


def _columns(data: list[dict[str, Any]], now: dt.datetime) -> MetricColumns | None:
    """Converted items as the metrics service's columns, equal to what the PutMetricData handler
    makes of them, taken field by field with C-level ``map``; None where the handler would take
    the per-item path, or for a mix of single Values and lists of them (the handler then builds
    the columns itself)."""
    n = len(data)
    if not n:
        return None

    def col(key: str) -> list[Any]:
        return list(map(dict.get, data, repeat(key)))

    res = col("StorageResolution")
    distinct_res = set(res)
    if not distinct_res <= _RESOLUTIONS:
        return None
    if None in distinct_res:
        res = [60] * n if distinct_res == {None} else [60 if r is None else r for r in res]
    single, many, counted = col("Value"), col("Values"), col("Counts")
    absent = single.count(None)
    if absent == 0:
        if many.count(None) != n or counted.count(None) != n or set(map(type, single)) != {float}:
            return None
        values, counts, offsets, singles = single, [1.0] * n, list(range(n + 1)), [True] * n
    elif absent == n and None not in many:
        values = list(chain.from_iterable(many))
        if not set(map(type, values)) <= {float}:
            return None
        lengths = list(map(len, many))
        if counted.count(None) == n:
            counts = [1.0] * len(values)
        elif None in counted or list(map(len, counted)) != lengths:
            return None
        else:
            counts = list(chain.from_iterable(counted))
            if not set(map(type, counts)) <= {float}:
                return None
        offsets, singles = [0, *accumulate(lengths)], [False] * n
    else:
        return None
    times = col("Timestamp")
    given = set(times)
    given.discard(None)
    if given and (min(given) < now - PAST_LIMIT or max(given) > now + FUTURE_LIMIT):
        return None
    ms: dict[Any, int] = {t: int(t.timestamp() * 1000) for t in given}
    ms[None] = int(now.timestamp() * 1000)
    try:
        keys = [tuple(map(_NAME_VALUE, d)) if d else () for d in col("Dimensions")]
    except KeyError:  # a dimension without its name or value
        return None
    # Items of one series share one list: the metrics service checks and encodes each once.
    lists: dict[tuple, Any] = dict.fromkeys(keys)
    for key in lists:
        if not all(name for name, _ in key):
            return None
        lists[key] = list(key)
    return MetricColumns(
        col("MetricName"),
        list(map(lists.__getitem__, keys)),
        list(map(ms.__getitem__, times)),
        col("Unit"),
        values,
        counts,
        offsets,
        res,
        singles,
    )


def _item(item: Any) -> None:
    if type(item) is not dict:
        raise _Unreadable
    for k, v in item.items():
        kind = _KINDS.get(k)
        if kind is None or v is None:
            raise _Unreadable
        if kind == _STR:
            if type(v) is not str:
                raise _Unreadable
        elif kind == _NUM:
            if type(v) is not float:
                item[k] = _number(v)
        elif kind == _TIME:
            if type(v) is not dt.datetime or v.tzinfo is None:
                item[k] = _time(v)
        elif kind == _DIMS:
            if type(v) is not list:
                raise _Unreadable
            for d in v:
                _dimension(d)
        elif kind == _INT:
            if type(v) is not int:
                raise _Unreadable
        else:  # _NUMS
            if type(v) is not list:
                raise _Unreadable
            if not all(type(x) is float for x in v):
                v[:] = [_number(x) for x in v]


def _convert(params: dict[str, Any]) -> list[dict[str, Any]] | None:
    if not params.keys() <= _TOP or type(params.get("Namespace")) is not str:
        return None
    data = params.get("MetricData")
    if type(data) is not list:
        return None
    try:
        for item in data:
            _item(item)
    except _Unreadable:
        return None
    return data


def convert(params: dict[str, Any]) -> dict[str, Any] | None:
    """``params`` (as ``cbor2.loads`` gave them) converted as the generic walk converts them, when the
    type check would pass; None (and ``params`` possibly part-converted) when not."""
    return None if _convert(params) is None else params


def read_columns(params: dict[str, Any]) -> ColumnarParams | None:
    """``convert``'s parameters as ``ColumnarParams``: the handler takes their items as columns
    (``_columns``) rather than walking them item by item; None when ``convert`` gives None."""
    data = _convert(params)
    if data is None:
        return None
    return ColumnarParams(params["Namespace"], partial(_columns, data), lambda: data)

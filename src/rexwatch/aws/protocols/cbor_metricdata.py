"""PutMetricData's decoded CBOR body, converted and type-checked in one pass over its items.

The generic CBOR codec walks a decoded body with the input shape (timestamps to
datetimes, integers to floats), and the door then walks it again to check every
member's type (``validate.check``): two walks over some 10,000 values in a
1,000-item call. This pass does both for the members a plain item has
(MetricName, Dimensions, Timestamp, Value, Values, Counts, Unit,
StorageResolution), in place on the freshly decoded objects.

It answers only for bodies it converts exactly as the generic walk does and that the
type check would pass: anything else (StatisticValues, EntityMetricData, a null member,
a member of the wrong type, an unknown member …) returns None and the generic walk
and the type check run, so their errors and messages are unchanged.
``tests/test_metricdata_readers.py`` checks both give the same parameters.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rexwatch.aws.protocols import from_epoch

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


def convert(params: dict[str, Any]) -> dict[str, Any] | None:
    """``params`` (as ``cbor2.loads`` gave them) converted as the generic walk converts them, when the
    type check would pass; None (and ``params`` possibly part-converted) when not."""
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
    return params

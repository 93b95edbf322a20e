"""PutMetricData's decoded CBOR body, converted and type-checked in one pass over its items.

The generic CBOR codec walks a decoded body with the input shape (timestamps to
datetimes, integers to floats), and the door then walks it again to check every
member's type (``validate.check``): two walks over some 10,000 values in a
1,000-item call. This pass does both for the members a plain item has
(MetricName, Dimensions, Timestamp, Value, Values, Counts, Unit,
StorageResolution), in place on the freshly decoded objects, and in the same pass takes
the items into the metrics service's columns, so the PutMetricData handler does not walk
them again.

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


class _Columns:
    """The metrics service's columns of the items converted so far (``plain`` False once an item
    needs the handler's per-item path)."""

    def __init__(self) -> None:
        self.plain = True
        self.names: list[Any] = []
        self.units: list[Any] = []
        self.resolutions: list[int] = []
        self.times: list[dt.datetime | None] = []
        self.values: list[float] = []
        self.counts: list[float] = []
        self.offsets = [0]
        self.singles: list[bool] = []
        self.dims: list[list[tuple[str, str]]] = []
        self.shared: dict[tuple, list[tuple[str, str]]] = {}

    def build(self, now: dt.datetime) -> MetricColumns | None:
        """The columns, equal to what the PutMetricData handler makes of the converted items;
        None where it would take the per-item path."""
        if not self.plain or not self.names:
            return None
        given = [t for t in self.times if t is not None]
        if given and (min(given) < now - PAST_LIMIT or max(given) > now + FUTURE_LIMIT):
            return None
        now_ms = int(now.timestamp() * 1000)
        ms = {t: int(t.timestamp() * 1000) for t in set(given)}
        ms[None] = now_ms  # type: ignore[index]
        times = list(map(ms.__getitem__, self.times))
        return MetricColumns(
            self.names,
            self.dims,
            times,
            self.units,
            self.values,
            self.counts,
            self.offsets,
            self.resolutions,
            self.singles,
        )


def _item(item: Any, cols: _Columns) -> None:
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
    if cols.plain:
        _column(item, cols)


def _column(item: dict[str, Any], cols: _Columns) -> None:
    """Add a converted item to the columns as the handler's ``_columns`` would, or mark them not plain."""
    get = item.get
    r = get("StorageResolution")
    if r is not None and r != 1 and r != 60:
        cols.plain = False
        return
    value, vs, cs = get("Value"), get("Values"), get("Counts")
    if value is not None:
        if vs is not None or cs is not None or type(value) is not float:
            cols.plain = False
            return
        cols.values.append(value)
        cols.counts.append(1.0)
        cols.singles.append(True)
    elif vs is not None:
        if not all(type(x) is float for x in vs) or (
            cs is not None and (not all(type(x) is float for x in cs) or len(cs) != len(vs))
        ):
            cols.plain = False
            return
        cols.values.extend(vs)
        cols.counts.extend(cs if cs else [1.0] * len(vs))
        cols.singles.append(False)
    else:
        cols.plain = False
        return
    try:
        key = tuple((d["Name"], d["Value"]) for d in get("Dimensions") or ())
    except KeyError:
        cols.plain = False
        return
    d = cols.shared.get(key)
    if d is None:
        if not all(n for n, _ in key):
            cols.plain = False
            return
        d = cols.shared[key] = list(key)
    cols.dims.append(d)
    cols.times.append(get("Timestamp"))
    cols.names.append(get("MetricName"))
    cols.units.append(get("Unit"))
    cols.offsets.append(len(cols.values))
    cols.resolutions.append(60 if r is None else r)


def _convert(params: dict[str, Any]) -> _Columns | None:
    if not params.keys() <= _TOP or type(params.get("Namespace")) is not str:
        return None
    data = params.get("MetricData")
    if type(data) is not list:
        return None
    cols = _Columns()
    try:
        for item in data:
            _item(item, cols)
    except _Unreadable:
        return None
    return cols


def convert(params: dict[str, Any]) -> dict[str, Any] | None:
    """``params`` (as ``cbor2.loads`` gave them) converted as the generic walk converts them, when the
    type check would pass; None (and ``params`` possibly part-converted) when not."""
    return None if _convert(params) is None else params


def read_columns(params: dict[str, Any]) -> ColumnarParams | None:
    """``convert``, with the items also taken into the metrics service's columns in the same pass
    (``ColumnarParams``); None when ``convert`` gives None."""
    cols = _convert(params)
    if cols is None:
        return None
    data = params["MetricData"]
    return ColumnarParams(params["Namespace"], cols.build, lambda: data)

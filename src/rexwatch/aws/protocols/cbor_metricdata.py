"""PutMetricData's decoded CBOR body, converted and type-checked in one pass over its items.

The generic CBOR codec walks a decoded body with the input shape (timestamps to
datetimes, integers to floats), and the door then walks it again to check every
member's type (``validate.check``): two walks over some 10,000 values in a
1,000-item call. This pass does both for the members a plain item has
(MetricName, Dimensions, Timestamp, Value, Values, Counts, Unit,
StorageResolution), in place on the freshly decoded objects. Items already as the walk
would leave them (floats, not integers; datetimes with their zone: what botocore sends) are
checked field by field instead (``_plain``), and the handler takes them into the metrics
service's columns with its one builder (``put.columns``), not item by item.

It answers only for bodies it converts exactly as the generic walk does and that the
type check would pass: anything else (StatisticValues, EntityMetricData, a null member,
a member of the wrong type, an unknown member …) returns None and the generic walk
and the type check run, so their errors and messages are unchanged.
``tests/test_metricdata_readers.py`` checks both give the same parameters.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

from rexwatch.aws.protocols import from_epoch
from rexwatch.aws.validate import ColumnarParams
from rexwatch.services.metrics.model import MetricColumns
from rexwatch.services.metrics.put import columns

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
_NONE = type(None)
_TEXT = frozenset({str, _NONE})
_LIST = frozenset({list, _NONE})


def _plain(data: list[Any]) -> list[list[Any]] | None:
    """The items' fields as lists (``put.columns``' arguments but ``now``) when every item is plain
    and already as the generic walk leaves it: known members, none null, strings, floats (not
    integers), aware datetimes, dimensions of string Name and Value. Checked field by field with
    C-level set and map work instead of member by member; None for anything else (``_convert``
    then walks the items)."""
    n = len(data)
    if not n:
        return None

    def col(key: str) -> list[Any]:
        return list(map(dict.get, data, repeat(key)))

    try:
        names, units, single, times, res = (col("MetricName"), col("Unit"), col("Value"), col("Timestamp"),
                                            col("StorageResolution"))
        dims, many, counted = col("Dimensions"), col("Values"), col("Counts")
    except TypeError:  # an item not a map
        return None
    fields = (names, units, single, times, res, dims, many, counted)
    # As many members as known, non-null ones: no member is unknown or null.
    if sum(map(len, data)) != sum(n - f.count(None) for f in fields):
        return None
    if not (set(map(type, names)) <= _TEXT and set(map(type, units)) <= _TEXT
            and set(map(type, single)) <= {float, _NONE} and set(map(type, res)) <= {int, _NONE}
            and set(map(type, dims)) <= _LIST and set(map(type, many)) <= _LIST
            and set(map(type, counted)) <= _LIST):
        return None
    given = set(times)
    given.discard(None)
    if given and (set(map(type, given)) != {dt.datetime} or any(t.tzinfo is None for t in given)):
        return None
    for lists in (many, counted):
        if not set(map(type, chain.from_iterable(filter(None, lists)))) <= {float}:
            return None
    flat = list(chain.from_iterable(filter(None, dims)))
    if flat:
        # Two members, a string Name and a string Value: nothing else.
        if set(map(type, flat)) != {dict} or set(map(len, flat)) != {2}:
            return None
        dim_names, dim_values = list(map(dict.get, flat, repeat("Name"))), list(map(dict.get, flat, repeat("Value")))
        if set(map(type, dim_names)) != {str} or set(map(type, dim_values)) != {str}:
            return None  # a dimension without its name or value: the walk and the handler tell which
        per = set(map(len, dims)) if None not in dims else set()
        if len(per) == 1:
            # Every item with the same number of dimensions (as SDKs send them): grouped without a loop.
            pairs = iter(list(zip(dim_names, dim_values, strict=True)))
            keys: list[tuple] = list(zip(*[pairs] * per.pop(), strict=True))
        else:
            keys = [tuple(map(_NAME_VALUE, d)) if d else () for d in dims]
    else:
        keys = [()] * n
    return [names, keys, times, single, many, counted, units, res, [None] * n]


def _columns(data: list[dict[str, Any]], now: dt.datetime) -> MetricColumns | None:
    """Converted items as the metrics service's columns (its one builder, field by field); None
    where the handler would take the per-item path, or for a mix of single Values and lists of them
    (the handler then builds the columns itself)."""
    try:
        keys = [tuple(map(_NAME_VALUE, d)) if d else () for d in map(dict.get, data, repeat("Dimensions"))]
    except KeyError:  # a dimension without its name or value
        return None

    def col(key: str) -> list[Any]:
        return list(map(dict.get, data, repeat(key)))

    return columns(col("MetricName"), keys, col("Timestamp"), col("Value"), col("Values"), col("Counts"),
                   col("Unit"), col("StorageResolution"), [None] * len(data), now=now)


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
    rather than walking them item by item; None when ``convert`` gives None."""
    if params.keys() <= _TOP and type(params.get("Namespace")) is str and type(params.get("MetricData")) is list:
        data = params["MetricData"]
        fields = _plain(data)
        if fields is not None:  # nothing for the walk to convert: the items are as it would leave them
            return ColumnarParams(params["Namespace"], lambda now: columns(*fields, now=now), lambda: data)
    data = _convert(params)
    if data is None:
        return None
    return ColumnarParams(params["Namespace"], partial(_columns, data), lambda: data)

"""A reader for PutMetricData's query form that does not walk it pair by pair.

A 1,000-item PutMetricData carries some 8,000 ``MetricData.member.N.<field>=value``
pairs; the generic query codec reads them one at a time into a tree and walks it
with the input shape. This reader takes the same form apart with C-level string
work: ``split`` gives the keys and values, one comparison with the keys a layout
of n items would have checks them all (SDKs serialise each item alike: the same
fields in the same order), each field is then a column taken with a slice and
converted with ``map``. (A regular expression over the form measured slower.) The
door gets the columns as they are (``read_columns``): the PutMetricData handler hands
them to the metrics service without ever making a dict per item.

It answers only for forms it reads exactly as the generic codec does: every
parameter a known one, items numbered 1, 2, … with no gaps or repeats, every
value convertible. Anything else (``StatisticValues``, ``EntityMetricData``,
a value that is not a number, an item missing a dimension's Value, escaped
keys …) returns None and the generic codec reads the form, so its errors and
messages are unchanged. ``tests/test_metricdata_readers.py`` checks both readers
give the same parameters.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from itertools import chain, repeat
from typing import Any
from urllib.parse import unquote_plus

from rexwatch.aws.protocols import parse_time
from rexwatch.aws.validate import ColumnarParams
from rexwatch.services.metrics.model import FUTURE_LIMIT, PAST_LIMIT, MetricColumns

_DIM = re.compile(r"Dimensions\.member\.([1-9]\d*)\.(Name|Value)\Z")
_LISTED = re.compile(r"(Values|Counts)\.member\.([1-9]\d*)\Z")
_TOP_FIELDS = frozenset({"Action", "Version", "Namespace"})
_SCALARS = ("MetricName", "Timestamp", "Value", "Unit", "StorageResolution")
# Member numbers as the generic codec looks them up (str(1), str(2), …), made once.
_NUMBERS = tuple(str(i) for i in range(1, 1001))


def _text(col: tuple[str, ...]) -> list[str] | tuple[str, ...]:
    joined = "".join(col)
    if "%" not in joined and "+" not in joined:
        return col
    seen: dict[str, str] = {}
    out = []
    for v in col:
        u = seen.get(v)
        if u is None:
            u = seen[v] = unquote_plus(v) if ("%" in v or "+" in v) else v
        out.append(u)
    return out



def _times(col: tuple[str, ...]) -> list[Any]:
    distinct = {v: None for v in col}
    if len(distinct) > 64:  # many distinct times: convert each (bounded by the item count)
        return [parse_time(v) for v in _text(col)]
    conv = {v: parse_time(u) for v, u in zip(distinct, _text(tuple(distinct)), strict=True)}
    return list(map(conv.__getitem__, col))


def _numbers(col: tuple[str, ...], kind: Callable[[str], Any]) -> list[Any]:
    return list(map(kind, _text(col)))


def read(text: str) -> dict[str, Any] | None:
    """PutMetricData's parameters as the generic query codec decodes them, or None when this
    reader cannot tell they would be the same."""
    try:
        form = _read(text)
    except (ValueError, TypeError, OverflowError, OSError):
        return None
    return None if form is None else {"Namespace": form.namespace, "MetricData": form.items()}


_PREFIX = "MetricData.member."
# Item keys per field layout, as many items as asked for so far (a call of n items compares with
# the first n). Bounded: a few small layouts are kept; others are built per request, at a cost
# in proportion to the form's size.
_LAYOUTS: dict[tuple[str, ...], list[str]] = {}


def _expected(fields: tuple[str, ...], n: int) -> list[str]:
    keys = _LAYOUTS.get(fields)
    if keys is None or len(keys) < n * len(fields):
        keys = [f"{_PREFIX}{i}.{f}" for i in _NUMBERS[:n] for f in fields]
        if len(fields) <= 16:
            if len(_LAYOUTS) >= 8 and fields not in _LAYOUTS:
                _LAYOUTS.pop(next(iter(_LAYOUTS)))
            _LAYOUTS[fields] = keys
    return keys


def _read(text: str) -> _Form | None:
    parts = text.split("&")
    # One "=" in every parameter: keys and values then alternate when "=" splits too.
    if "" in parts or text.count("=") != len(parts) or not all(map(str.__contains__, parts, repeat("="))):
        return None
    kv = text.replace("=", "&").split("&")
    keys, values = kv[0::2], kv[1::2]
    start = 0
    while start < len(keys) and not keys[start].startswith(_PREFIX):
        start += 1
    end = len(keys)
    while end > start and not keys[end - 1].startswith(_PREFIX):
        end -= 1
    top = {keys[i]: values[i] for i in (*range(start), *range(end, len(keys)))}
    if len(top) != len(keys) - (end - start) or not set(top) <= _TOP_FIELDS or "Namespace" not in top:
        return None
    first = _PREFIX + "1."
    k = start
    while k < end and keys[k].startswith(first):
        k += 1
    k -= start
    if k == 0 or (end - start) % k:
        return None
    n = (end - start) // k
    fields = tuple(key[len(first) :] for key in keys[start : start + k])
    if n > len(_NUMBERS) or len(set(fields)) != k or keys[start:end] != _expected(fields, n)[: n * k]:
        return None
    values = values[start:end]
    ns = _text((top["Namespace"],))[0]
    columns: dict[str, Any] = {}
    dims: dict[int, dict[str, tuple[str, ...]]] = {}
    listed: dict[str, dict[int, tuple[str, ...]]] = {}
    for j, f in enumerate(fields[:k]):
        col = tuple(values[j::k])
        if f in _SCALARS:
            columns[f] = col
        elif m := _DIM.match(f):
            dims.setdefault(int(m.group(1)), {})[m.group(2)] = col
        elif m := _LISTED.match(f):
            listed.setdefault(m.group(1), {})[int(m.group(2))] = col
        else:
            return None
    if "MetricName" not in columns:
        return None
    form = _Form(ns, n, list(_text(columns["MetricName"])))
    if "Timestamp" in columns:
        form.times = _times(columns["Timestamp"])
    if "Value" in columns:
        form.value = _numbers(columns["Value"], float)
    if "Unit" in columns:
        form.units = list(_text(columns["Unit"]))
    if "StorageResolution" in columns:
        form.resolutions = _numbers(columns["StorageResolution"], int)
    if dims:
        if sorted(dims) != list(range(1, len(dims) + 1)) or any(len(d) != 2 for d in dims.values()):
            return None
        form.dim_names = [list(_text(dims[m]["Name"])) for m in range(1, len(dims) + 1)]
        form.dim_values = [list(_text(dims[m]["Value"])) for m in range(1, len(dims) + 1)]
    for name, by_pos in listed.items():
        if sorted(by_pos) != list(range(1, len(by_pos) + 1)):
            return None
        form.listed[name] = [_numbers(by_pos[m], float) for m in range(1, len(by_pos) + 1)]
    return form


class _Form:
    """A form's items by field, each field a column of n converted values (dimensions and
    Values/Counts: one column per member position)."""

    def __init__(self, namespace: str, n: int, names: list[str]) -> None:
        self.namespace, self.n, self.names = namespace, n, names
        self.times: list[dt.datetime] | None = None
        self.value: list[float] | None = None
        self.units: list[str] | None = None
        self.resolutions: list[int] | None = None
        self.dim_names: list[list[str]] = []
        self.dim_values: list[list[str]] = []
        self.listed: dict[str, list[list[float]]] = {}

    def items(self) -> list[dict[str, Any]]:
        """The items as the generic codec decodes them (its members in the same order)."""
        out: dict[str, list[Any]] = {"MetricName": self.names}
        if self.times is not None:
            out["Timestamp"] = self.times
        if self.value is not None:
            out["Value"] = self.value
        if self.units is not None:
            out["Unit"] = self.units
        if self.resolutions is not None:
            out["StorageResolution"] = self.resolutions
        if self.dim_names:
            per_dim = [
                [{"Name": a, "Value": b} for a, b in zip(na, va, strict=True)]
                for na, va in zip(self.dim_names, self.dim_values, strict=True)
            ]
            out["Dimensions"] = [list(row) for row in zip(*per_dim, strict=True)]
        for name, cols in self.listed.items():
            out[name] = [list(row) for row in zip(*cols, strict=True)]
        keys = tuple(out)
        return [dict(zip(keys, row, strict=True)) for row in zip(*out.values(), strict=True)]

    def columns(self, now: dt.datetime) -> MetricColumns | None:
        """The items as the metrics service's columns, equal to what the PutMetricData handler
        makes of ``items()``; None where the handler would take the per-item path."""
        n = self.n
        resolutions = self.resolutions
        if resolutions is None:
            resolutions = [60] * n
        elif not set(resolutions) <= {1, 60}:
            return None
        listed = self.listed
        if self.value is not None:
            if listed:
                return None
            values, counts = self.value, [1.0] * n
            offsets, singles = list(range(n + 1)), [True] * n
        elif "Values" in listed:
            vcols, ccols = listed["Values"], listed.get("Counts")
            k = len(vcols)
            values = list(chain.from_iterable(zip(*vcols, strict=True)))
            if ccols is None:
                counts = [1.0] * len(values)
            elif len(ccols) != k:
                return None
            else:
                counts = list(chain.from_iterable(zip(*ccols, strict=True)))
            offsets, singles = list(range(0, n * k + 1, k)), [False] * n
        else:
            return None
        if self.times is None:
            times = [int(now.timestamp() * 1000)] * n
        else:
            distinct = set(self.times)
            if min(distinct) < now - PAST_LIMIT or max(distinct) > now + FUTURE_LIMIT:
                return None
            ms = {t: int(t.timestamp() * 1000) for t in distinct}
            times = list(map(ms.__getitem__, self.times))
        if self.dim_names:
            if not all(map(all, self.dim_names)):  # a dimension without its name
                return None
            pairs = [zip(na, va, strict=True) for na, va in zip(self.dim_names, self.dim_values, strict=True)]
            keys = list(zip(*pairs, strict=True))
            # Items of one series share one list: the metrics service checks and encodes each once.
            lists = {key: list(key) for key in keys}
            dims = list(map(lists.__getitem__, keys))
        else:
            dims = [[]] * n
        units = self.units if self.units is not None else [None] * n
        return MetricColumns(self.names, dims, times, units, values, counts, offsets, resolutions, singles)


def read_columns(text: str) -> ColumnarParams | None:
    """PutMetricData's parameters with their items kept in columns (``ColumnarParams``), when
    ``read`` would give them; None when not."""
    try:
        form = _read(text)
    except (ValueError, TypeError, OverflowError, OSError):
        return None
    if form is None:
        return None
    return ColumnarParams(form.namespace, form.columns, form.items)

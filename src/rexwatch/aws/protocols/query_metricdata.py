"""A reader for PutMetricData's query form that does not walk it pair by pair.

A 1,000-item PutMetricData carries some 8,000 ``MetricData.member.N.<field>=value``
pairs; the generic query codec reads them one at a time into a tree and walks it
with the input shape. This reader takes the same form apart with C-level string
work: ``split`` gives the keys and values, one comparison with the keys a layout
of n items would have checks them all (SDKs serialise each item alike: the same
fields in the same order), each field is then a column taken with a slice and
converted with ``map``. (A regular expression over the form measured slower.)

It answers only for forms it reads exactly as the generic codec does: every
parameter a known one, items numbered 1, 2, … with no gaps or repeats, every
value convertible. Anything else (``StatisticValues``, ``EntityMetricData``,
a value that is not a number, an item missing a dimension's Value, escaped
keys …) returns None and the generic codec reads the form, so its errors and
messages are unchanged. ``tests/test_metricdata_readers.py`` checks both readers
give the same parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import repeat
from typing import Any
from urllib.parse import unquote_plus

from rexwatch.aws.protocols import from_epoch

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


def _time(raw: str) -> Any:
    import datetime as dt

    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        return from_epoch(value)
    parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _times(col: tuple[str, ...]) -> list[Any]:
    distinct = {v: None for v in col}
    if len(distinct) > 64:  # many distinct times: convert each (bounded by the item count)
        return [_time(v) for v in _text(col)]
    conv = {v: _time(u) for v, u in zip(distinct, _text(tuple(distinct)), strict=True)}
    return list(map(conv.__getitem__, col))


def _numbers(col: tuple[str, ...], kind: Callable[[str], Any]) -> list[Any]:
    return list(map(kind, _text(col)))


def read(text: str) -> dict[str, Any] | None:
    """PutMetricData's parameters as the generic query codec decodes them, or None when this
    reader cannot tell they would be the same."""
    try:
        return _read(text)
    except (ValueError, TypeError, OverflowError, OSError):
        return None


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


def _read(text: str) -> dict[str, Any] | None:
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
    out: dict[str, list[Any]] = {"MetricName": list(_text(columns["MetricName"]))}
    if "Timestamp" in columns:
        out["Timestamp"] = _times(columns["Timestamp"])
    if "Value" in columns:
        out["Value"] = _numbers(columns["Value"], float)
    if "Unit" in columns:
        out["Unit"] = list(_text(columns["Unit"]))
    if "StorageResolution" in columns:
        out["StorageResolution"] = _numbers(columns["StorageResolution"], int)
    if dims:
        if sorted(dims) != list(range(1, len(dims) + 1)) or any(len(d) != 2 for d in dims.values()):
            return None
        names = [_text(dims[m]["Name"]) for m in range(1, len(dims) + 1)]
        vals = [_text(dims[m]["Value"]) for m in range(1, len(dims) + 1)]
        per_dim = [
            [{"Name": a, "Value": b} for a, b in zip(na, va, strict=True)]
            for na, va in zip(names, vals, strict=True)
        ]
        out["Dimensions"] = [list(row) for row in zip(*per_dim, strict=True)]
    for name, by_pos in listed.items():
        if sorted(by_pos) != list(range(1, len(by_pos) + 1)):
            return None
        cols = [_numbers(by_pos[m], float) for m in range(1, len(by_pos) + 1)]
        out[name] = [list(row) for row in zip(*cols, strict=True)]
    keys = tuple(out)
    items = [dict(zip(keys, row, strict=True)) for row in zip(*out.values(), strict=True)]
    return {"Namespace": ns, "MetricData": items}

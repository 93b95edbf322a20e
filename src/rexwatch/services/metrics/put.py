"""PutMetricData: CloudWatch's validation rules, and the Arrow batch that gets stored."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from itertools import accumulate, chain
from operator import attrgetter

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from rexwatch.errors import FieldPath, Invalid, InvalidCombination, MissingParameter
from rexwatch.services.metrics.model import (
    FUTURE_LIMIT,
    MAX_DIMENSIONS,
    MAX_ITEMS_PER_PUT,
    MAX_MAGNITUDE,
    MAX_VALUES,
    MIN_MAGNITUDE,
    PAST_LIMIT,
    UNITS,
    MetricColumns,
    MetricDatum,
)

POINTS_SCHEMA = pa.schema(
    [
        ("namespace", pa.string()),
        ("metric_name", pa.string()),
        ("dims", pa.string()),
        ("unit", pa.string()),
        ("ts", pa.timestamp("ms", tz="UTC")),
        ("resolution", pa.uint8()),
        ("samples", pa.float64()),
        ("sum", pa.float64()),
        ("min", pa.float64()),
        ("max", pa.float64()),
        ("value", pa.float64()),
        ("weight", pa.uint64()),
    ]
)


# Messages name their field as ``{field}``: each door spells the path its own way
# (``MetricData.member.1.Value`` on the AWS protocols, ``MetricData[1].Value`` over REST).


def bad_value(field: FieldPath, value: object) -> Invalid:
    return Invalid(f"The value {value} for parameter {{field}} is invalid.", field=field)


def missing(field: FieldPath) -> Invalid:
    return MissingParameter("The parameter {field} is required.", field=field)


def canonical_dims(dims: Sequence[tuple[str, str]]) -> str:
    """The stored form of a dimension set: a JSON object with sorted keys."""
    return orjson.dumps(dict(sorted(dims)), option=orjson.OPT_SORT_KEYS).decode()


def check_namespace(namespace: str | None, *, for_put: bool = True) -> str:
    if namespace is None or namespace == "":
        raise missing(("Namespace",))
    if len(namespace) > 255 or namespace.startswith(":"):
        raise bad_value(("Namespace",), namespace)
    if for_put and namespace.startswith("AWS/"):
        raise Invalid(
            f"The value {namespace} for parameter Namespace is invalid: namespaces starting with "
            f"'AWS/' are reserved for AWS services.",
            field="Namespace",
        )
    return namespace


def check_dimensions(dims: Sequence[tuple[str, str]], prefix: FieldPath = ()) -> None:
    """``prefix`` is the path of the structure holding the dimensions (``("MetricData", 2)``)."""
    if len(dims) > MAX_DIMENSIONS:
        raise bad_value((*prefix, "Dimensions"), f"with {len(dims)} dimensions (at most {MAX_DIMENSIONS})")
    seen: set[str] = set()
    for j, (name, value) in enumerate(dims, 1):
        f = (*prefix, "Dimensions", j)
        if not name:
            raise missing((*f, "Name"))
        if value is None or value == "":
            raise missing((*f, "Value"))
        if len(name) > 255 or name.startswith(":"):
            raise bad_value((*f, "Name"), name)
        if len(value) > 1024:
            raise bad_value((*f, "Value"), value[:40] + "...")
        if name in seen:
            raise Invalid(
                f"No metric may have more than one dimension named {name}; duplicate in {{field}}.",
                field=(*f, "Name"),
            )
        seen.add(name)


def _check_number(x: object, field: FieldPath) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise bad_value(field, x)
    v = float(x)
    if math.isnan(v) or math.isinf(v) or abs(v) > MAX_MAGNITUDE or (v != 0 and abs(v) < MIN_MAGNITUDE):
        raise bad_value(field, x)
    return v


def build_points(
    namespace: str | None, data: Sequence[MetricDatum], now: dt.datetime, *, allow_reserved: bool = False
) -> pa.Table:
    """Validate a PutMetricData call and return its rows; raise Invalid naming item and field.

    Calls whose datums are plain (Value, or Values with matching Counts, numbers, a timestamp in
    range) are checked per column (``build_columns``, about 4x faster for 1,000 datums); the
    others take the per-datum path, which finds the same first error.
    """
    cols = as_columns(data, now)
    if cols is not None:
        return build_columns(namespace, cols, now, allow_reserved=allow_reserved)
    return build_points_per_datum(namespace, data, now, allow_reserved=allow_reserved)


_NONE = type(None)
_TEXT = frozenset({str, _NONE})
_NUMBER = frozenset({float, int})
_RESOLUTION = frozenset({_NONE, int})
_RESOLUTIONS = frozenset({None, 1, 60})
_TIME = frozenset({dt.datetime, _NONE})
_FIELDS = tuple(map(attrgetter, ("metric_name", "dimensions", "timestamp", "value", "values", "counts", "unit",
                                   "storage_resolution", "statistic_values")))


def as_columns(data: Sequence[MetricDatum], now: dt.datetime) -> MetricColumns | None:
    """The datums as columns, or None when one needs the per-datum path (statistic sets, conflicting
    or missing members, non-numbers, mismatched Counts, timestamps out of range: rare, and their
    messages spelled by it)."""
    if not data:
        return None
    return columns(*(list(map(f, data)) for f in _FIELDS), now=now)


def columns(
    names: list, dimensions: list, timestamps: list, values: list, lists: list, counts: list, units: list,
    resolutions: list, statistics: list, *, now: dt.datetime,
) -> MetricColumns | None:
    """Datums given field by field (one list per MetricDatum field, None where a datum has not the
    field) as the metrics service's columns, or None where the per-datum path must check them (its
    rules and messages): a statistic set, a member of the wrong type, a dimension without its name
    or value, no value or conflicting ones, mismatched Counts, a timestamp out of range, single
    Values and lists of them in one call. Each field is checked as a whole with C-level set and map
    work, not datum by datum: the one builder of every door's columns (the AWS readers, the
    handler for the generic codecs' items, ``as_columns`` for datums)."""
    n = len(names)
    if not n or statistics.count(None) != n:
        return None
    if not set(map(type, names)) <= _TEXT or not set(map(type, units)) <= _TEXT:
        return None
    if not set(map(type, resolutions)) <= _RESOLUTION or not set(resolutions) <= _RESOLUTIONS:
        return None
    absent = resolutions.count(None)
    res = [60] * n if absent == n else resolutions if not absent else [60 if r is None else r for r in resolutions]
    if values.count(None) == 0:
        if lists.count(None) != n or counts.count(None) != n or not set(map(type, values)) <= _NUMBER:
            return None
        flat, weights, offsets, singles = values, [1.0] * n, list(range(n + 1)), [True] * n
    elif values.count(None) == n and set(map(type, lists)) == {list}:
        flat = list(chain.from_iterable(lists))
        if not set(map(type, flat)) <= _NUMBER:
            return None
        lengths = list(map(len, lists))
        if counts.count(None) == n:
            weights = [1.0] * len(flat)
        elif set(map(type, counts)) != {list} or list(map(len, counts)) != lengths:
            return None
        else:
            weights = list(chain.from_iterable(counts))
            if not set(map(type, weights)) <= _NUMBER:
                return None
        offsets, singles = [0, *accumulate(lengths)], [False] * n
    else:
        return None
    if not set(map(type, timestamps)) <= _TIME:
        return None
    given = set(timestamps)
    given.discard(None)
    ms: dict[dt.datetime | None, int] = {None: int(now.timestamp() * 1000)}
    if given:
        aware = [t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC) for t in given]
        if min(aware) < now - PAST_LIMIT or max(aware) > now + FUTURE_LIMIT:
            return None
        ms.update(zip(given, (int(t.timestamp() * 1000) for t in aware), strict=True))
    try:
        keys = list(map(tuple, dimensions))
        shared: dict[tuple, list | None] = dict.fromkeys(keys)
    except TypeError:  # not a sequence, or unhashable parts: the per-datum path names what is wrong
        return None
    for key in shared:
        # Datums of one series share one list: build_columns checks and encodes each list once.
        if not all(name and value is not None for name, value in key):
            return None
        shared[key] = list(key)
    return MetricColumns(names, list(map(shared.__getitem__, keys)), list(map(ms.__getitem__, timestamps)), units,
                         flat, weights, offsets, res, singles)


def build_points_per_datum(
    namespace: str | None, data: Sequence[MetricDatum], now: dt.datetime, *, allow_reserved: bool = False
) -> pa.Table:
    """build_points one datum at a time: every rule, for every shape of datum."""
    check_namespace(namespace, for_put=not allow_reserved)
    if not data:
        raise missing(("MetricData",))
    if len(data) > MAX_ITEMS_PER_PUT:
        raise bad_value(("MetricData",), f"with {len(data)} items (at most {MAX_ITEMS_PER_PUT})")
    key_cols: dict[str, list] = {"namespace": [], "metric_name": [], "dims": [], "unit": []}
    ts_ms: list[int] = []
    resolution: list[int] = []
    num_rows: list[tuple[float, float, float, float, float, int]] = []
    oldest, newest = now - PAST_LIMIT, now + FUTURE_LIMIT
    for i, d in enumerate(data, 1):
        p: FieldPath = ("MetricData", i)
        if not d.metric_name:
            raise missing((*p, "MetricName"))
        if len(d.metric_name) > 255:
            raise bad_value((*p, "MetricName"), d.metric_name[:40] + "...")
        check_dimensions(d.dimensions, p)
        unit = d.unit or "None"
        if unit not in UNITS:
            raise bad_value((*p, "Unit"), unit)
        res = 60 if d.storage_resolution is None else d.storage_resolution
        if res not in (1, 60):
            raise bad_value((*p, "StorageResolution"), res)
        ts = d.timestamp or now
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=dt.UTC)
        if ts < oldest or ts > newest:
            raise Invalid(
                f"The value {ts.isoformat()} for parameter {{field}} is invalid: timestamps must be "
                f"within the last two weeks and at most two hours in the future.",
                field=(*p, "Timestamp"),
            )
        given = [
            n
            for n, v in (("Value", d.value), ("Values", d.values), ("StatisticValues", d.statistic_values))
            if v is not None
        ]
        if len(given) > 1:
            raise InvalidCombination(
                f"The parameters {given[0]} and {{field}} of the same datum are mutually exclusive and "
                f"you have specified both.",
                field=(*p, given[1]),
            )
        if d.counts is not None and d.values is None:
            raise InvalidCombination("The parameter {field} needs Values.", field=(*p, "Counts"))
        if not given:
            raise missing((*p, "Value"))
        dims = canonical_dims(d.dimensions)
        rows: list[tuple[float, float, float, float, float, int]] = []
        if d.value is not None:
            v = _check_number(d.value, (*p, "Value"))
            rows.append((1.0, v, v, v, v, 1))
        elif d.values is not None:
            if len(d.values) == 0:
                raise missing((*p, "Values"))
            if len(d.values) > MAX_VALUES:
                raise bad_value((*p, "Values"), f"with {len(d.values)} values (at most {MAX_VALUES})")
            counts = d.counts if d.counts else [1.0] * len(d.values)
            if len(counts) != len(d.values):
                raise Invalid(
                    f"The parameters Values and {{field}} must be arrays of the same length "
                    f"({len(d.values)} values, {len(counts)} counts).",
                    field=(*p, "Counts"),
                )
            for k, (raw_v, raw_c) in enumerate(zip(d.values, counts, strict=True), 1):
                v = _check_number(raw_v, (*p, "Values", k))
                c = _check_number(raw_c, (*p, "Counts", k))
                if c < 0:
                    raise bad_value((*p, "Counts", k), raw_c)
                if c == 0:
                    continue
                rows.append((c, v * c, v, v, v, max(1, round(c))))
        else:
            s = d.statistic_values
            assert s is not None
            sv = (*p, "StatisticValues")
            sc = _check_number(s.sample_count, (*sv, "SampleCount"))
            total = _check_number(s.sum, (*sv, "Sum"))
            lo = _check_number(s.minimum, (*sv, "Minimum"))
            hi = _check_number(s.maximum, (*sv, "Maximum"))
            if sc <= 0:
                raise bad_value((*sv, "SampleCount"), s.sample_count)
            if lo > hi:
                raise Invalid(
                    "The parameter {field} must be less than or equal to the Maximum of the same "
                    "StatisticValues.",
                    field=(*sv, "Minimum"),
                )
            rows.append((sc, total, lo, hi, 0.0, 0))
        n = len(rows)
        key_cols["namespace"].extend([namespace] * n)
        key_cols["metric_name"].extend([d.metric_name] * n)
        key_cols["dims"].extend([dims] * n)
        key_cols["unit"].extend([unit] * n)
        ts_ms.extend([int(ts.timestamp() * 1000)] * n)
        resolution.extend([res] * n)
        num_rows.extend(rows)
    nums = list(zip(*num_rows, strict=True))
    arrays = [
        pa.array(key_cols["namespace"], pa.string()),
        pa.array(key_cols["metric_name"], pa.string()),
        pa.array(key_cols["dims"], pa.string()),
        pa.array(key_cols["unit"], pa.string()),
        pa.array(ts_ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        pa.array(resolution, pa.uint8()),
        *(pa.array(col, pa.float64()) for col in nums[:5]),
        pa.array(nums[5], pa.uint64()),
    ]
    return pa.Table.from_arrays(arrays, schema=POINTS_SCHEMA)


# ---- the columnar batch -------------------------------------------------------------------
# The same rules as build_points, checked per column with numpy. Every rule finds the first
# datum it fails on; the error raised is the one build_points would raise first: the lowest
# datum, and within a datum the rule build_points checks first (the rank below).


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _bad_numbers(a: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        mag = np.abs(a)
        return ~np.isfinite(a) | (mag > MAX_MAGNITUDE) | ((a != 0) & (mag < MIN_MAGNITUDE))


# Dimension sets that passed check_dimensions -> their stored form. A sender repeats its series
# call after call (Prometheus at every scrape, with thousands of distinct sets per request), and
# the check and the encoding cost about 1.5 µs a set against a lookup's 0.1. Bounded.
_CHECKED: dict[tuple, str] = {}
CHECKED_CACHE = 100_000


def _checked_dims(dims: Sequence[tuple[str, str]], prefix: FieldPath) -> str:
    try:
        key = tuple(dims)
        hit = _CHECKED.get(key)
    except TypeError:  # unhashable parts: check them uncached, which names what is wrong
        check_dimensions(dims, prefix)
        return canonical_dims(dims)
    if hit is not None:
        return hit
    check_dimensions(dims, prefix)
    if len(_CHECKED) >= CHECKED_CACHE:
        _CHECKED.clear()
    _CHECKED[key] = encoded = canonical_dims(dims)
    return encoded


def build_columns(
    namespace: str | None,
    cols: MetricColumns,
    now: dt.datetime,
    *,
    max_items: int | None = MAX_ITEMS_PER_PUT,
    allow_reserved: bool = False,
) -> pa.Table:
    """Validate a columnar batch as PutMetricData would and return its rows."""
    check_namespace(namespace, for_put=not allow_reserved)
    n = len(cols)
    if n == 0:
        raise missing(("MetricData",))
    if max_items is not None and n > max_items:
        raise bad_value(("MetricData",), f"with {n} items (at most {max_items})")
    found: list[tuple[int, int, Callable[[], Invalid]]] = []  # (datum, rank, error)

    def fail(i: int | None, rank: int, err: Callable[[], Invalid]) -> None:
        if i is not None:
            found.append((i, rank, err))

    def field(i: int, *rest: object) -> FieldPath:
        return ("MetricData", i + 1, *rest)

    names = pa.array(cols.metric_names, pa.string())
    lengths = pc.fill_null(pc.utf8_length(names), 0).to_numpy(zero_copy_only=False)
    i = _first(lengths == 0)
    fail(i, 0, lambda i=i: missing(field(i, "MetricName")))
    i = _first(lengths > 255)
    fail(i, 1, lambda i=i: bad_value(field(i, "MetricName"), cols.metric_names[i][:40] + "..."))

    # Dimensions: validated and encoded once per distinct list object.
    slot_of: dict[int, int] = {}
    distinct: list[str] = []
    dims_idx: list[int] = []
    for i, d in enumerate(cols.dimensions):
        k = slot_of.get(id(d))
        if k is None:
            try:
                encoded = _checked_dims(d, ("MetricData", i + 1))
            except Invalid as e:
                fail(i, 2, lambda e=e: e)
                break
            k = slot_of[id(d)] = len(distinct)
            distinct.append(encoded)
        dims_idx.append(k)

    units = [u if u else "None" for u in cols.units]
    bad_units = set(units) - UNITS
    if bad_units:
        i = next(j for j, u in enumerate(units) if u in bad_units)
        fail(i, 3, lambda i=i: bad_value(field(i, "Unit"), units[i]))

    if cols.storage_resolutions is None:
        res = np.full(n, 60, dtype=np.uint8)
    else:
        raw_res = np.asarray(cols.storage_resolutions, dtype=np.int64)
        i = _first((raw_res != 1) & (raw_res != 60))
        fail(i, 4, lambda i=i: bad_value(field(i, "StorageResolution"), cols.storage_resolutions[i]))
        res = raw_res.astype(np.uint8)

    ts = np.asarray(cols.timestamps_ms, dtype=np.int64)
    oldest = int((now - PAST_LIMIT).timestamp() * 1000)
    newest = int((now + FUTURE_LIMIT).timestamp() * 1000)
    i = _first((ts < oldest) | (ts > newest))
    if i is not None:
        when = dt.datetime.fromtimestamp(int(ts[i]) / 1000, dt.UTC)
        fail(i, 5, lambda i=i, when=when: Invalid(
            f"The value {when.isoformat()} for parameter {{field}} is invalid: timestamps must be "
            f"within the last two weeks and at most two hours in the future.",
            field=field(i, "Timestamp"),
        ))

    values = np.asarray(cols.values, dtype=np.float64)
    if cols.offsets is None:
        if len(values) != n:
            raise ValueError("MetricColumns.values needs one value per datum when offsets is None")
        if cols.counts is not None:
            raise ValueError("MetricColumns.counts needs offsets")
        datum_of = np.arange(n)
        counts = np.ones(n)
        j = _first(_bad_numbers(values))
        if j is not None:
            fail(j, 7, lambda j=j: bad_value(field(j, "Value"), cols.values[j]))
    else:
        offsets = np.asarray(cols.offsets, dtype=np.int64)
        if len(offsets) != n + 1 or offsets[0] != 0 or offsets[-1] != len(values) or np.any(np.diff(offsets) < 0):
            raise ValueError("MetricColumns.offsets must run from 0 to len(values), one more than the datums")
        per = np.diff(offsets)
        i = _first(per == 0)
        fail(i, 6, lambda i=i: missing(field(i, "Values")))
        i = _first(per > MAX_VALUES)
        fail(i, 6, lambda i=i: bad_value(field(i, "Values"),
                                         f"with {int(per[i])} values (at most {MAX_VALUES})"))
        datum_of = np.repeat(np.arange(n), per)
        if cols.counts is None:
            counts = np.ones(len(values))
        else:
            counts = np.asarray(cols.counts, dtype=np.float64)
            if len(counts) != len(values):
                raise ValueError("MetricColumns.counts must be as long as values")
        # One rank per (position in the datum, check): Values k before Counts k before Counts k+1.
        bad = np.stack([_bad_numbers(values), _bad_numbers(counts), counts < 0], axis=1)
        j = _first(bad.any(axis=1))
        if j is not None:
            check = int(np.flatnonzero(bad[j])[0])
            i = int(datum_of[j])
            k = j - int(offsets[i]) + 1
            raw = cols.values[j] if check == 0 else cols.counts[j]  # type: ignore[index]
            if cols.single_values is not None and cols.single_values[i]:
                fail(i, 7, lambda i=i, raw=raw: bad_value(field(i, "Value"), raw))
            else:
                fail(i, 7, lambda i=i, k=k, raw=raw, check=check: bad_value(
                    field(i, "Values" if check == 0 else "Counts", k), raw))
    if found:
        raise min(found, key=lambda f: (f[0], f[1]))[2]()

    keep = counts != 0
    rows = datum_of if keep.all() else datum_of[keep]
    if not keep.all():
        values, counts = values[keep], counts[keep]
    take = pa.array(rows)
    unit_arr = pa.array(units, pa.string())
    arrays = [
        pa.array([namespace] * len(rows), pa.string()),
        names.take(take),
        pa.array(distinct, pa.string()).take(pa.array(np.asarray(dims_idx, dtype=np.int64)[rows])),
        unit_arr.take(take),
        pa.array(ts[rows]).cast(pa.timestamp("ms", tz="UTC")),
        pa.array(res[rows], pa.uint8()),
        pa.array(counts, pa.float64()),
        pa.array(values * counts, pa.float64()),
        pa.array(values, pa.float64()),
        pa.array(values, pa.float64()),
        pa.array(values, pa.float64()),
        pa.array(np.maximum(1, np.rint(counts)).astype(np.uint64), pa.uint64()),
    ]
    return pa.Table.from_arrays(arrays, schema=POINTS_SCHEMA)

"""``POST /v1/metrics``: OTLP metrics into the metrics store.

Mapping (docs/intake.md):

- namespace: the ``otlp_metrics_namespace`` template (``otel`` by default;
  ``{service.name}`` and other resource attributes may be used);
- metric name: the OTel instrument name, unchanged;
- dimensions: the resource attributes named in ``otlp_resource_dimensions``
  (in that order), then the data point's attributes in name order, at most
  ``MAX_DIMENSIONS`` (30, CloudWatch's limit); attributes past the cap and
  empty values are left out, values longer than 1024 characters are cut;
- unit: UCUM units CloudWatch knows (``s``, ``ms``, ``By``, ``%``, ``{...}``
  annotations as ``Count`` …), otherwise ``None``;
- gauges, delta sums and non-monotonic sums: the value of each point;
- monotonic cumulative sums: the increase since the previous point, with
  reset detection (``cumulative.py``);
- histograms and exponential histograms: each non-empty bucket as a value
  (its midpoint, clamped to the point's min/max; the geometric middle for
  exponential buckets) with its count, so percentiles come out within a
  bucket's width; cumulative ones per bucket as for sums;
- summaries: each quantile as a value of ``<name>`` with dimension
  ``quantile``, count and sum as cumulative ``<name>_count`` / ``<name>_sum``.

Points the store cannot hold (NaN or infinite values, timestamps over two
weeks old or two hours ahead) are counted in ``partial_success``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Hashable, Iterator
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from rexwatch.errors import Invalid
from rexwatch.intake import otlp
from rexwatch.intake.common import attributes, storable, text
from rexwatch.intake.cumulative import CumulativeTracker
from rexwatch.intake.otlp_logs import group_name
from rexwatch.runtime import Runtime
from rexwatch.services.metrics.model import (
    FUTURE_LIMIT,
    MAX_DIMENSIONS,
    MAX_VALUES,
    PAST_LIMIT,
    MetricColumns,
)
from rexwatch.services.metrics.service import MetricsService

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
NO_RECORDED_VALUE = 1  # DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK

UNITS = {
    "s": "Seconds", "ms": "Milliseconds", "us": "Microseconds", "By": "Bytes", "KBy": "Kilobytes",
    "MBy": "Megabytes", "GBy": "Gigabytes", "TBy": "Terabytes", "KiBy": "Kilobytes", "MiBy": "Megabytes",
    "GiBy": "Gigabytes", "TiBy": "Terabytes", "bit": "Bits", "Kbit": "Kilobits", "Mbit": "Megabits",
    "Gbit": "Gigabits", "Tbit": "Terabits", "%": "Percent", "1": "None", "By/s": "Bytes/Second",
    "KBy/s": "Kilobytes/Second", "MBy/s": "Megabytes/Second", "GBy/s": "Gigabytes/Second",
    "bit/s": "Bits/Second", "Kbit/s": "Kilobits/Second", "Mbit/s": "Megabits/Second",
    "Gbit/s": "Gigabits/Second", "1/s": "Count/Second",
}


def cloudwatch_unit(unit: str) -> str:
    if unit in UNITS:
        return UNITS[unit]
    if unit.startswith("{") and unit.endswith("}"):
        return "Count/Second" if unit.endswith("/s}") else "Count"
    if unit.startswith("{") and unit.endswith("}/s"):
        return "Count/Second"
    return "None"


def resource_dimensions(resource: dict[str, Any], keep: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for key in keep:
        value = resource.get(key)
        if value is not None and value != "":
            out.append((key, text(value)[:1024]))
    return out[:MAX_DIMENSIONS]


def point_dimensions(base: list[tuple[str, str]], kvs: Any) -> list[tuple[str, str]]:
    if not kvs:
        return base
    dims = list(base)
    seen = {k for k, _ in base}
    for key, value in sorted(attributes(kvs).items()):
        if len(dims) >= MAX_DIMENSIONS:
            break
        if key in seen or not key or len(key) > 255 or key[0] == ":" or value is None or value == "":
            continue
        dims.append((key, text(value)[:1024]))
        seen.add(key)
    return dims


_ok = storable


def _number(p: Any) -> float:
    return float(p.as_int) if p.WhichOneof("value") == "as_int" else p.as_double


def _explicit_buckets(p: Any) -> tuple[dict[Hashable, float], dict[Hashable, float]]:
    """(bucket -> count, bucket -> representative value) of an explicit-bounds histogram point."""
    bounds = list(p.explicit_bounds)
    lo = p.min if p.HasField("min") else None
    hi = p.max if p.HasField("max") else None
    counts: dict[Hashable, float] = {}
    reps: dict[Hashable, float] = {}
    for i, c in enumerate(p.bucket_counts):
        if not c:
            continue
        if not bounds:
            v = p.sum / p.count if p.HasField("sum") and p.count else (lo if lo is not None else 0.0)
        elif i == 0:
            v = (lo + bounds[0]) / 2 if lo is not None and lo < bounds[0] else bounds[0]
        elif i >= len(bounds):
            v = (bounds[-1] + hi) / 2 if hi is not None and hi > bounds[-1] else bounds[-1]
        else:
            v = (bounds[i - 1] + bounds[i]) / 2
        if lo is not None:
            v = max(v, lo)
        if hi is not None:
            v = min(v, hi)
        counts[i], reps[i] = float(c), v
    return counts, reps


def _exponential_buckets(p: Any) -> tuple[dict[Hashable, float], dict[Hashable, float]]:
    base = 2.0 ** (2.0 ** -p.scale)
    lo = p.min if p.HasField("min") else None
    hi = p.max if p.HasField("max") else None
    counts: dict[Hashable, float] = {}
    reps: dict[Hashable, float] = {}
    if p.zero_count:
        counts["z"], reps["z"] = float(p.zero_count), 0.0
    for sign, buckets in ((1.0, p.positive), (-1.0, p.negative)):
        for i, c in enumerate(buckets.bucket_counts):
            if not c:
                continue
            k = buckets.offset + i
            try:
                v = sign * base ** (k + 0.5)  # bucket k is (base^k, base^(k+1)]
            except OverflowError:
                v = sign * math.inf
            if lo is not None:
                v = max(v, lo)
            if hi is not None:
                v = min(v, hi)
            counts[(sign, p.scale, k)], reps[(sign, p.scale, k)] = float(c), v
    return counts, reps


class _Columns:
    """One namespace's datums in columns (``MetricColumns`` with offsets), built point by point."""

    def __init__(self) -> None:
        self.cols = MetricColumns([], [], [], [], [], [], [0])

    def add(self, name: str, dims: list, t_ms: int, unit: str, values: list[float], counts: list[float]) -> None:
        c = self.cols
        c.metric_names.append(name)
        c.dimensions.append(dims)
        c.timestamps_ms.append(t_ms)
        c.units.append(unit)
        c.values.extend(values)
        c.counts.extend(counts)  # type: ignore[union-attr]
        c.offsets.append(len(c.values))  # type: ignore[union-attr]


class PointBatch:
    """Columns by namespace, one dimension list per attribute set, and what was refused."""

    def __init__(self, now: dt.datetime) -> None:
        self.by_ns: dict[str, _Columns] = defaultdict(_Columns)
        self.rejected = 0
        self.problem = ""
        now_ns = int(now.timestamp() * 1e9)
        self.now_ms = now_ns // 1_000_000
        self.oldest = now_ns - int(PAST_LIMIT.total_seconds() * 1e9)
        self.newest = now_ns + int(FUTURE_LIMIT.total_seconds() * 1e9)
        # (id of the resource's dimensions, the attributes' wire bytes) -> (dimensions, their tuple):
        # points of one attribute set share one list, which the batch put validates and encodes once.
        self._dims: dict[tuple, tuple[list[tuple[str, str]], tuple]] = {}

    def dims(self, base: list[tuple[str, str]], kvs: Any) -> tuple[list[tuple[str, str]], tuple]:
        key = (id(base), tuple(kv.SerializeToString() for kv in kvs))
        hit = self._dims.get(key)
        if hit is None:
            d = point_dimensions(base, kvs)
            hit = self._dims[key] = (d, tuple(d))
        return hit

    def refuse(self, n: int, why: str) -> None:
        self.rejected += n
        self.problem = self.problem or why

    def when(self, ns: int, name: str) -> int | None:
        """The point's time in epoch milliseconds, or None (refused) outside what the store keeps."""
        if not ns:
            return self.now_ms
        if ns < self.oldest or ns > self.newest:
            self.refuse(1, f"{name}: a point's time is over two weeks old or over two hours ahead")
            return None
        return ns // 1_000_000

    def value(self, namespace: str, name: str, dims: list, t: int, v: float, unit: str) -> None:
        if not _ok(v):
            self.refuse(1, f"{name}: value {v} cannot be stored")
            return
        self.by_ns[namespace].add(name, dims, t, unit, [v], [1.0])

    def distribution(self, namespace: str, name: str, dims: list, t: int,
                     counts: dict[Hashable, float], reps: dict[Hashable, float], unit: str) -> None:
        pairs = [(reps[b], c) for b, c in counts.items() if c > 0]
        good = [(v, c) for v, c in pairs if _ok(v)]
        if len(good) < len(pairs):
            self.refuse(1, f"{name}: a bucket's value cannot be stored")
        for i in range(0, len(good), MAX_VALUES):
            part = good[i:i + MAX_VALUES]
            self.by_ns[namespace].add(name, dims, t, unit, [v for v, _ in part], [c for _, c in part])


def _map_metric(m: Any, namespace: str, base: list, tracker: CumulativeTracker, out: PointBatch) -> None:
    name = m.name
    if not name or len(name) > 255:
        out.refuse(1, f"metric name {name[:40]!r} must have 1 to 255 characters")
        return
    unit = cloudwatch_unit(m.unit)
    kind = m.WhichOneof("data")
    if kind == "gauge" or kind == "sum":
        data = getattr(m, kind)
        cumulative = kind == "sum" and data.is_monotonic and data.aggregation_temporality == CUMULATIVE
        for p in data.data_points:
            if p.flags & NO_RECORDED_VALUE:
                continue
            t = out.when(p.time_unix_nano, name)
            if t is None:
                continue
            dims, dims_key = out.dims(base, p.attributes)
            v = _number(p)
            if cumulative:
                if not _ok(v):
                    out.refuse(1, f"{name}: value {v} cannot be stored")
                    continue
                v = tracker.delta((namespace, name, dims_key), p.start_time_unix_nano, v)
            out.value(namespace, name, dims, t, v, unit)
    elif kind in ("histogram", "exponential_histogram"):
        data = getattr(m, kind)
        cumulative = data.aggregation_temporality == CUMULATIVE
        split = _explicit_buckets if kind == "histogram" else _exponential_buckets
        for p in data.data_points:
            if p.flags & NO_RECORDED_VALUE:
                continue
            t = out.when(p.time_unix_nano, name)
            if t is None:
                continue
            dims, dims_key = out.dims(base, p.attributes)
            counts, reps = split(p)
            if cumulative:
                counts = tracker.bucket_delta((namespace, name, dims_key, kind), p.start_time_unix_nano,
                                              counts)
            out.distribution(namespace, name, dims, t, counts, reps, unit)
    elif kind == "summary":
        for p in m.summary.data_points:
            if p.flags & NO_RECORDED_VALUE:
                continue
            t = out.when(p.time_unix_nano, name)
            if t is None:
                continue
            dims, dims_key = out.dims(base, p.attributes)
            for q in p.quantile_values:
                qdims = [*dims, ("quantile", repr(q.quantile))][:MAX_DIMENSIONS]
                out.value(namespace, name, qdims, t, q.value, unit)
            for suffix, total in (("_count", float(p.count)), ("_sum", p.sum)):
                if _ok(total):
                    v = tracker.delta((namespace, name + suffix, dims_key), p.start_time_unix_nano, total)
                    out.value(namespace, name + suffix, dims, t, v, "Count" if suffix == "_count" else unit)
    else:
        out.refuse(1, f"{name}: metric has no data")


def export(runtime: Runtime, req: ExportMetricsServiceRequest) -> ExportMetricsServiceResponse:
    s = runtime.settings
    keep = tuple(k.strip() for k in s.otlp_resource_dimensions.split(",") if k.strip())
    tracker = runtime.service(CumulativeTracker)
    out = PointBatch(dt.datetime.now(dt.UTC))
    for rm in req.resource_metrics:
        resource = attributes(rm.resource.attributes)
        namespace = group_name(s.otlp_metrics_namespace, resource)[:255]
        base = resource_dimensions(resource, keep)
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                _map_metric(m, namespace, base, tracker, out)
    put(runtime.service(MetricsService), out)
    if out.rejected:
        return ExportMetricsServiceResponse(partial_success=ExportMetricsPartialSuccess(
            rejected_data_points=out.rejected, error_message=out.problem))
    return ExportMetricsServiceResponse()


# Datums per batch put: the request body bounds the total; this bounds what one refusal costs.
PUT_CHUNK = 20_000


def put(metrics: MetricsService, out: PointBatch) -> None:
    for namespace, columns in out.by_ns.items():
        for chunk in _chunked(columns.cols):
            try:
                metrics.put_metric_columns(namespace, chunk, max_items=None)
            except Invalid as e:
                out.refuse(len(chunk), e.message)


def _chunked(c: MetricColumns) -> Iterator[MetricColumns]:
    if len(c) <= PUT_CHUNK:
        yield c
        return
    offsets = c.offsets
    assert offsets is not None and c.counts is not None
    for i in range(0, len(c), PUT_CHUNK):
        j = min(i + PUT_CHUNK, len(c))
        a, b = offsets[i], offsets[j]
        yield MetricColumns(c.metric_names[i:j], c.dimensions[i:j], c.timestamps_ms[i:j], c.units[i:j],
                            c.values[a:b], c.counts[a:b], [o - a for o in offsets[i:j + 1]])


ROUTES = (("/v1/metrics", lambda runtime: otlp.door(runtime, ExportMetricsServiceRequest, export)),)

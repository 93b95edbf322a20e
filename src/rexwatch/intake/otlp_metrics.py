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
from rexwatch.intake.common import attributes, text
from rexwatch.intake.cumulative import CumulativeTracker
from rexwatch.intake.otlp_logs import group_name
from rexwatch.runtime import Runtime
from rexwatch.services.metrics.model import (
    FUTURE_LIMIT,
    MAX_DIMENSIONS,
    MAX_ITEMS_PER_PUT,
    MAX_MAGNITUDE,
    MAX_VALUES,
    MIN_MAGNITUDE,
    PAST_LIMIT,
    Datum,
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
        if key in seen or not key or len(key) > 255 or value is None or value == "":
            continue
        dims.append((key, text(value)[:1024]))
        seen.add(key)
    return dims


def _ok(v: float) -> bool:
    return not (math.isnan(v) or math.isinf(v) or abs(v) > MAX_MAGNITUDE or (v != 0 and abs(v) < MIN_MAGNITUDE))


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


class _Batch:
    """Datums by namespace, and what was refused."""

    def __init__(self, now: dt.datetime) -> None:
        self.by_ns: dict[str, list[Datum]] = defaultdict(list)
        self.rejected = 0
        self.problem = ""
        self.oldest, self.newest = now - PAST_LIMIT, now + FUTURE_LIMIT

    def refuse(self, n: int, why: str) -> None:
        self.rejected += n
        self.problem = self.problem or why

    def when(self, ns: int, name: str) -> dt.datetime | None:
        t = dt.datetime.fromtimestamp(ns / 1e9, dt.UTC) if ns else self.newest - FUTURE_LIMIT
        if t < self.oldest or t > self.newest:
            self.refuse(1, f"{name}: a point's time is over two weeks old or over two hours ahead")
            return None
        return t

    def value(self, namespace: str, name: str, dims: list, t: dt.datetime, v: float, unit: str) -> None:
        if not _ok(v):
            self.refuse(1, f"{name}: value {v} cannot be stored")
            return
        self.by_ns[namespace].append(Datum(name, dims, t, value=v, unit=unit))

    def distribution(self, namespace: str, name: str, dims: list, t: dt.datetime,
                     counts: dict[Hashable, float], reps: dict[Hashable, float], unit: str) -> None:
        pairs = [(reps[b], c) for b, c in counts.items() if c > 0]
        good = [(v, c) for v, c in pairs if _ok(v)]
        if len(good) < len(pairs):
            self.refuse(1, f"{name}: a bucket's value cannot be stored")
        for i in range(0, len(good), MAX_VALUES):
            part = good[i:i + MAX_VALUES]
            self.by_ns[namespace].append(Datum(name, dims, t, values=[v for v, _ in part],
                                               counts=[c for _, c in part], unit=unit))


def _map_metric(m: Any, namespace: str, base: list, tracker: CumulativeTracker, out: _Batch) -> None:
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
            dims = point_dimensions(base, p.attributes)
            v = _number(p)
            if cumulative:
                if not _ok(v):
                    out.refuse(1, f"{name}: value {v} cannot be stored")
                    continue
                v = tracker.delta((namespace, name, tuple(dims)), p.start_time_unix_nano, v)
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
            dims = point_dimensions(base, p.attributes)
            counts, reps = split(p)
            if cumulative:
                counts = tracker.bucket_delta((namespace, name, tuple(dims), kind), p.start_time_unix_nano,
                                              counts)
            out.distribution(namespace, name, dims, t, counts, reps, unit)
    elif kind == "summary":
        for p in m.summary.data_points:
            if p.flags & NO_RECORDED_VALUE:
                continue
            t = out.when(p.time_unix_nano, name)
            if t is None:
                continue
            dims = point_dimensions(base, p.attributes)
            for q in p.quantile_values:
                qdims = [*dims, ("quantile", repr(q.quantile))][:MAX_DIMENSIONS]
                out.value(namespace, name, qdims, t, q.value, unit)
            for suffix, total in (("_count", float(p.count)), ("_sum", p.sum)):
                if _ok(total):
                    v = tracker.delta((namespace, name + suffix, tuple(dims)), p.start_time_unix_nano, total)
                    out.value(namespace, name + suffix, dims, t, v, "Count" if suffix == "_count" else unit)
    else:
        out.refuse(1, f"{name}: metric has no data")


def export(runtime: Runtime, req: ExportMetricsServiceRequest) -> ExportMetricsServiceResponse:
    s = runtime.settings
    keep = tuple(k.strip() for k in s.otlp_resource_dimensions.split(",") if k.strip())
    tracker = runtime.service(CumulativeTracker)
    out = _Batch(dt.datetime.now(dt.UTC))
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


def put(metrics: MetricsService, out: _Batch) -> None:
    for namespace, datums in out.by_ns.items():
        for chunk in _chunked(datums):
            try:
                metrics.put_metric_data(namespace, chunk)
            except Invalid as e:
                out.refuse(len(chunk), e.message)


def _chunked(items: list[Datum]) -> Iterator[list[Datum]]:
    for i in range(0, len(items), MAX_ITEMS_PER_PUT):
        yield items[i:i + MAX_ITEMS_PER_PUT]


ROUTES = (("/v1/metrics", lambda runtime: otlp.door(runtime, ExportMetricsServiceRequest, export)),)

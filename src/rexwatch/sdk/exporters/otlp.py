"""OTLP/HTTP (protobuf) logs and metrics, for rexwatch's ``/v1/*`` or any OpenTelemetry collector.

Messages are built with OpenTelemetry's own definitions (``opentelemetry-proto``, which
``pip install 'rexwatch[otlp]'`` brings with the OpenTelemetry SDK); the SDK's core does
not need them, and choosing this exporter without them fails at ``configure()``.

- A log line becomes a log record: ``message`` is the body, ``level`` the severity,
  ``trace_id``/``span_id`` the record's trace context, the logger the instrumentation
  scope, and every other field an attribute. The log group is not an OTLP notion: the
  receiver names it (rexwatch: ``/otel/<service.name>``).
- A statistic set becomes a delta histogram point without buckets: ``count``, ``sum``,
  ``min`` and ``max`` exactly; dimensions are the point's attributes and the namespace is
  the instrumentation scope.
- A datum that carries its distribution (``TargetResponseTime``) becomes a delta
  exponential histogram point, so a receiver computes percentiles: each value falls in
  its base-2^(2^-scale) bucket, at the finest scale (at most ``MAX_SCALE``) that fits
  ``MAX_BUCKETS`` buckets, as OpenTelemetry SDKs choose it; count, sum, min and max stay
  exact. Each of the SDK's values is the mean of one of its own 10 % buckets, so a
  percentile read from the point is off by at most that bucket's width plus half an
  exponential bucket.
- The resource carries ``service.name``, ``service.version`` and ``service.instance.id``
  (the log stream, one per process).
"""

from __future__ import annotations

import math
import os
from typing import Any
from urllib.parse import unquote

import httpx

from rexwatch.sdk.config import Config
from rexwatch.sdk.exporters.base import Exporter, ExportError, MetricDatum
from rexwatch.sdk.logs import loads

try:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsServiceRequest,
        ExportLogsServiceResponse,
    )
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
        ExportMetricsServiceResponse,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
except ImportError as e:  # pragma: no cover - exercised by the lean-install test
    raise RuntimeError("the otlp exporter needs OpenTelemetry's protobuf definitions: "
                       f"pip install 'rexwatch[otlp]' ({e})") from None

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"
_PROTOBUF = {"Content-Type": "application/x-protobuf"}
# CloudWatch units as UCUM, the way OTLP receivers (rexwatch's included) read them back.
UNITS = {
    "Seconds": "s", "Milliseconds": "ms", "Microseconds": "us", "Bytes": "By", "Kilobytes": "KBy",
    "Megabytes": "MBy", "Gigabytes": "GBy", "Terabytes": "TBy", "Bits": "bit", "Kilobits": "Kbit",
    "Megabits": "Mbit", "Gigabits": "Gbit", "Terabits": "Tbit", "Percent": "%", "Count": "{count}",
    "Bytes/Second": "By/s", "Kilobytes/Second": "KBy/s", "Megabytes/Second": "MBy/s",
    "Gigabytes/Second": "GBy/s", "Bits/Second": "bit/s", "Kilobits/Second": "Kbit/s",
    "Megabits/Second": "Mbit/s", "Gigabits/Second": "Gbit/s", "Count/Second": "{count}/s", "None": "1",
}
# Log levels as OTLP severity numbers (the first number of each range).
SEVERITY = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARNING": 13, "WARN": 13, "ERROR": 17, "CRITICAL": 21,
            "FATAL": 21}
_RECORD_FIELDS = ("timestamp", "level", "message", "logger", "trace_id", "span_id")
# Exponential histograms: twice OpenTelemetry's default size (160), so the usual 1 ms to 1 s span
# of response times keeps scale 5 (buckets 2.2 % wide, well inside the SDK's own 10 %), and a
# finest scale for narrow spreads (0.27 %).
MAX_BUCKETS = 320
MAX_SCALE = 8


def exponential_buckets(values: list[tuple[float, float]]) -> tuple[int, float, dict[int, tuple[int, list[int]]]]:
    """(value, count) pairs as an exponential histogram: (scale, zero count, {sign: (offset, counts)}).

    Bucket ``i`` holds (base^i, base^(i+1)] with base = 2^(2^-scale); a lower scale merges
    buckets by shifting indices, so the scale is lowered until each sign's span fits.
    """
    zero = 0.0
    idx: dict[int, list[tuple[int, int]]] = {1: [], -1: []}
    factor = 2.0**MAX_SCALE
    for value, count in values:
        if value == 0 or not math.isfinite(value):
            zero += count if value == 0 else 0
            continue
        i = math.ceil(math.log2(abs(value)) * factor) - 1
        idx[1 if value > 0 else -1].append((i, int(count)))
    scale = MAX_SCALE
    for pairs in idx.values():
        if pairs:
            lo, hi = min(i for i, _ in pairs), max(i for i, _ in pairs)
            while scale > -10 and (hi >> (MAX_SCALE - scale)) - (lo >> (MAX_SCALE - scale)) + 1 > MAX_BUCKETS:
                scale -= 1
    out: dict[int, tuple[int, list[int]]] = {}
    for sign, pairs in idx.items():
        if not pairs:
            continue
        shifted = [(i >> (MAX_SCALE - scale), c) for i, c in pairs]
        offset = min(i for i, _ in shifted)
        counts = [0] * (max(i for i, _ in shifted) - offset + 1)
        for i, c in shifted:
            counts[i - offset] += c
        out[sign] = (offset, counts)
    return scale, zero, out


def value_of(v: Any) -> AnyValue:
    """A JSON value as an OTLP ``AnyValue`` (objects as key-value lists, arrays as arrays)."""
    out = AnyValue()
    if isinstance(v, bool):
        out.bool_value = v
    elif isinstance(v, int) and -(2 ** 63) <= v < 2 ** 63:
        out.int_value = v
    elif isinstance(v, float):
        out.double_value = v
    elif isinstance(v, str):
        out.string_value = v
    elif isinstance(v, dict):
        out.kvlist_value.values.extend(KeyValue(key=str(k), value=value_of(x)) for k, x in v.items())
    elif isinstance(v, list):
        out.array_value.values.extend(value_of(x) for x in v)
    elif v is not None:
        out.string_value = str(v)
    return out


def _hex_bytes(text: Any, n: int) -> bytes:
    if isinstance(text, str) and len(text) == n * 2:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    return b""


def env_headers(text: str | None) -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_HEADERS``: ``key=value`` pairs, comma-separated, values URL-encoded."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            out[key.strip()] = unquote(value.strip())
    return out


class OtlpExporter(Exporter):
    def __init__(self, config: Config) -> None:
        self.config = config
        base = config.endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_ENDPOINT
        self.logs_url = os.environ.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT") or base.rstrip("/") + "/v1/logs"
        self.metrics_url = os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or base.rstrip("/") + "/v1/metrics"
        self.headers = {"User-Agent": "rexwatch-sdk", **env_headers(os.environ.get("OTEL_EXPORTER_OTLP_HEADERS"))}
        if config.api_key:
            self.headers["Authorization"] = f"Bearer {config.api_key}"
        self.timeout = config.timeout
        self.client = httpx.Client(headers=self.headers, timeout=self.timeout, trust_env=False)

    def _resource(self, stream: str | None = None) -> list[KeyValue]:
        attrs = {"service.name": self.config.service, "telemetry.sdk.name": "rexwatch"}
        if self.config.version:
            attrs["service.version"] = self.config.version
        attrs["service.instance.id"] = stream or self.config.log_stream or ""
        return [KeyValue(key=k, value=value_of(v)) for k, v in attrs.items() if v]

    def _post(self, url: str, body: bytes, what: str, answer: Any) -> Any:
        try:
            resp = self.client.post(url, content=body, headers=_PROTOBUF)
        except httpx.HTTPError as e:
            raise ExportError(f"{what}: {type(e).__name__}: {e}", retryable=True)
        if resp.status_code >= 300:
            # OTLP: 429, 502, 503 and 504 may pass later; any other refusal is about the batch itself.
            retryable = resp.status_code in (429, 502, 503, 504)
            raise ExportError(f"{what}: HTTP {resp.status_code} {resp.text[:300]}", retryable=retryable)
        out = answer()
        if resp.content:
            try:
                out.ParseFromString(resp.content)
            except Exception:  # a 2xx with a body we cannot read: delivered all the same
                pass
        return out

    def send_logs(self, group: str, stream: str, events: list[tuple[int, str]]) -> int:
        req = ExportLogsServiceRequest()
        rl = req.resource_logs.add()
        rl.resource.attributes.extend(self._resource(stream))
        scopes: dict[str, Any] = {}
        for ts, message in events:
            try:
                doc = loads(message)
            except ValueError:
                doc = {"message": message}
            if not isinstance(doc, dict):
                doc = {"message": message}
            logger = str(doc.get("logger") or "app")
            scope = scopes.get(logger)
            if scope is None:
                scope = scopes[logger] = rl.scope_logs.add()
                scope.scope.name = logger
            rec = scope.log_records.add()
            rec.time_unix_nano = ts * 1_000_000
            level = str(doc.get("level") or "INFO").upper()
            rec.severity_text = level
            rec.severity_number = SEVERITY.get(level, 9)  # type: ignore[assignment]
            rec.body.string_value = str(doc.get("message", ""))
            rec.trace_id = _hex_bytes(doc.get("trace_id"), 16)
            rec.span_id = _hex_bytes(doc.get("span_id"), 8)
            rec.attributes.extend(KeyValue(key=str(k), value=value_of(v)) for k, v in doc.items()
                                  if k not in _RECORD_FIELDS)
        answer = self._post(self.logs_url, req.SerializeToString(), "OTLP logs", ExportLogsServiceResponse)
        return min(len(events), int(answer.partial_success.rejected_log_records))

    def send_metrics(self, namespace: str, data: list[MetricDatum]) -> None:
        req = ExportMetricsServiceRequest()
        rm = req.resource_metrics.add()
        rm.resource.attributes.extend(self._resource())
        sm = rm.scope_metrics.add()
        sm.scope.name = namespace
        by_name: dict[tuple[str, str, bool], Any] = {}
        span_ns = int(self.config.flush_interval * 1e9)
        for d in data:
            exp = bool(d.distribution)
            metric = by_name.get((d.name, d.unit, exp))
            if metric is None:
                metric = by_name[(d.name, d.unit, exp)] = sm.metrics.add()
                metric.name = d.name
                metric.unit = UNITS.get(d.unit, "1")
                kind = metric.exponential_histogram if exp else metric.histogram
                kind.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
            p = (metric.exponential_histogram if exp else metric.histogram).data_points.add()
            end = int(d.timestamp * 1e9)
            p.time_unix_nano = end
            p.start_time_unix_nano = end - span_ns
            p.count = int(d.count)
            p.sum = d.sum
            p.min = d.minimum
            p.max = d.maximum
            if exp:
                scale, zero, buckets = exponential_buckets(list(d.distribution or ()))
                p.scale = scale
                p.zero_count = int(zero)
                for sign, side in ((1, p.positive), (-1, p.negative)):
                    if sign in buckets:
                        side.offset, counts = buckets[sign]
                        side.bucket_counts.extend(counts)
            else:
                p.bucket_counts.append(int(d.count))
            p.attributes.extend(KeyValue(key=k, value=value_of(v)) for k, v in d.dimensions)
        answer = self._post(self.metrics_url, req.SerializeToString(), "OTLP metrics", ExportMetricsServiceResponse)
        rejected = int(answer.partial_success.rejected_data_points)
        if rejected:
            raise ExportError(f"OTLP metrics: {rejected} points refused: {answer.partial_success.error_message}",
                              retryable=False)

    def after_fork(self) -> None:
        self.client = httpx.Client(headers=self.headers, timeout=self.timeout, trust_env=False)

    def close(self) -> None:
        self.client.close()

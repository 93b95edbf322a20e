"""``POST /api/v1/write`` and ``POST /api/v1/push``: Prometheus remote_write (protocol 1.0).

The body is a snappy-compressed (block format) protobuf ``prometheus.WriteRequest``.
The messages are declared below with protobuf's descriptor API, field for
field as in Prometheus' ``prompb/remote.proto`` and ``prompb/types.proto``, and
decoded by the protobuf library; exemplars and native histograms (fields 3
and 4 of ``TimeSeries``) are not declared, so they are skipped. A series'
labels are read as raw bytes first and decoded as ``Label`` messages only the
first time a label set is seen.

Mapping (docs/intake.md):

- namespace: the ``prometheus_namespace`` setting (``prometheus``);
- metric name: ``__name__``; dimensions: every other label, in name order, at
  most 30 (CloudWatch's limit; labels past it are left out);
- value: each sample as it is, counters included, so the raw series is kept
  (rate and increase are computed when read); staleness markers and other
  NaNs are skipped; samples over two weeks old or two hours ahead are refused.

Answers follow the remote-write specification: 204 on success; 400 (not
retried by Prometheus) for a body that is not a snappy WriteRequest or whose
samples cannot be stored; 413 past the body bound; 429/503 (retried) when the
server is saturated or a store is down.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Awaitable, Callable

import anyio
import cramjam
from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from rexwatch.errors import Invalid, RexwatchError, Throttled, Unavailable
from rexwatch.intake.common import IntakeError, authenticate, read_body, storable
from rexwatch.runtime import Runtime
from rexwatch.services.metrics.model import FUTURE_LIMIT, MAX_DIMENSIONS, PAST_LIMIT, MetricColumns
from rexwatch.services.metrics.service import MetricsService

# Samples per batch put: the request body bounds the total; this bounds what one refusal costs.
PUT_CHUNK = 20_000

log = logging.getLogger("rexwatch.intake")


def _messages():
    F = descriptor_pb2.FieldDescriptorProto
    fd = descriptor_pb2.FileDescriptorProto(name="rexwatch/prompb_remote.proto", package="prometheus",
                                            syntax="proto3")

    def message(name: str, *fields: tuple[str, int, int, str | None, bool]) -> None:
        m = fd.message_type.add(name=name)
        for fname, number, ftype, type_name, repeated in fields:
            f = m.field.add(name=fname, number=number, type=ftype,
                            label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
            if type_name:
                f.type_name = type_name

    message("Label", ("name", 1, F.TYPE_STRING, None, False), ("value", 2, F.TYPE_STRING, None, False))
    message("Sample", ("value", 1, F.TYPE_DOUBLE, None, False), ("timestamp", 2, F.TYPE_INT64, None, False))
    message("TimeSeries", ("labels", 1, F.TYPE_MESSAGE, ".prometheus.Label", True),
            ("samples", 2, F.TYPE_MESSAGE, ".prometheus.Sample", True))
    # MetricMetadata.type is the MetricType enum on the wire: a varint, read here as int32.
    message("MetricMetadata", ("type", 1, F.TYPE_INT32, None, False),
            ("metric_family_name", 2, F.TYPE_STRING, None, False), ("help", 4, F.TYPE_STRING, None, False),
            ("unit", 5, F.TYPE_STRING, None, False))
    message("WriteRequest", ("timeseries", 1, F.TYPE_MESSAGE, ".prometheus.TimeSeries", True),
            ("metadata", 3, F.TYPE_MESSAGE, ".prometheus.MetricMetadata", True))
    # The reading side declares a series' labels as raw bytes (a Label is length-delimited on the
    # wire, as bytes are): one bytes object per label instead of a message and two strings, and
    # the raw labels are the cache key below; a label is decoded only on a cache miss.
    message("RawTimeSeries", ("labels", 1, F.TYPE_BYTES, None, True),
            ("samples", 2, F.TYPE_MESSAGE, ".prometheus.Sample", True))
    message("RawWriteRequest", ("timeseries", 1, F.TYPE_MESSAGE, ".prometheus.RawTimeSeries", True),
            ("metadata", 3, F.TYPE_MESSAGE, ".prometheus.MetricMetadata", True))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return tuple(message_factory.GetMessageClass(pool.FindMessageTypeByName(f"prometheus.{name}"))
                 for name in ("WriteRequest", "RawWriteRequest", "Label"))


# WriteRequest builds bodies (tests, benches); the door reads them as RawWriteRequest.
WriteRequest, RawWriteRequest, Label = _messages()


def decode(body: bytes, limit: int) -> object:
    try:
        size = cramjam.snappy.decompress_raw_len(body)
    except Exception as e:
        raise IntakeError(400, f"body is not snappy-compressed (block format): {e}")
    if size > limit:
        raise IntakeError(413, f"decompressed body of {size} bytes exceeds {limit} bytes")
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except Exception as e:
        raise IntakeError(400, f"body is not valid snappy: {e}")
    req = RawWriteRequest()
    try:
        req.ParseFromString(raw)
    except DecodeError as e:
        raise not_a_write_request(e)
    return req


def not_a_write_request(e: Exception) -> IntakeError:
    return IntakeError(400, f"body is not a protobuf prometheus.WriteRequest: {e}")


# Label sets seen lately, by their raw bytes -> (metric name, dimensions): Prometheus sends the
# same series at every scrape, so each is decoded once; sharing one dimensions list between the
# series that have the same labels besides __name__ lets the batch put validate and encode it once
# per request. Bounded: about 55 MB per 100,000 label sets of five labels. It is cleared when
# full, so a sender with more series than the bound pays the decoding of every label at every
# request (as if there were no cache), which is why the bound is well above 100,000.
_SERIES: dict[tuple[bytes, ...], tuple[str, list[tuple[str, str]]]] = {}
_DIMS: dict[tuple[tuple[str, str], ...], list[tuple[str, str]]] = {}
SERIES_CACHE = 200_000


def _series(raw_labels: tuple[bytes, ...]) -> tuple[str, list[tuple[str, str]]]:
    """The metric name ("" when missing or over 255 characters) and the dimensions of a label set."""
    labels = []
    for raw in raw_labels:
        try:
            label = Label.FromString(raw)  # checks UTF-8 as decoding the whole body did
        except DecodeError as e:
            raise not_a_write_request(e)
        labels.append((label.name, label.value))
    name = ""
    dims = []
    for k, v in labels:
        if k == "__name__":
            name = v
        elif v and k and k[0] != ":":
            dims.append((k[:255], v[:1024]))
    if len(name) > 255:
        name = ""
    dims.sort()
    del dims[MAX_DIMENSIONS:]
    # Duplicate label names (invalid in Prometheus) would fail the whole batch: keep the first.
    if len({k for k, _ in dims}) < len(dims):
        dims = list(dict(reversed(dims)).items())
        dims.sort()
    if len(_SERIES) >= SERIES_CACHE:
        _SERIES.clear()
        _DIMS.clear()
    dims = _DIMS.setdefault(tuple(dims), dims)
    _SERIES[raw_labels] = series = (name, dims)
    return series


def write(runtime: Runtime, req) -> tuple[int, int, str]:
    """Store the samples; return (stored, refused, first reason)."""
    namespace = runtime.settings.prometheus_namespace
    metrics = runtime.service(MetricsService)
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    oldest = now_ms - int(PAST_LIMIT.total_seconds() * 1000)
    newest = now_ms + int(FUTURE_LIMIT.total_seconds() * 1000)
    names: list[str] = []
    dimensions: list[list[tuple[str, str]]] = []
    times: list[int] = []
    values: list[float] = []
    refused, reason = 0, ""
    for ts in req.timeseries:
        raw_labels = tuple(ts.labels)
        series = _SERIES.get(raw_labels)
        if series is None:
            series = _series(raw_labels)
        name, dims = series
        if not name:
            refused += len(ts.samples)
            reason = reason or "a series has no __name__ label (or one over 255 characters)"
            continue
        for s in ts.samples:
            v = s.value
            if math.isnan(v):
                continue  # staleness markers are NaNs; a NaN is no datapoint either
            if math.isinf(v) or not oldest <= s.timestamp <= newest or not storable(v):
                refused += 1
                reason = reason or f"{name}: a sample is infinite or its time is outside the last two weeks"
                continue
            # Series with the same dimensions share one list: the batch put validates and encodes it once.
            names.append(name)
            dimensions.append(dims)
            times.append(s.timestamp)
            values.append(v)
    stored = 0
    for i in range(0, len(names), PUT_CHUNK):
        j = i + PUT_CHUNK
        cols = MetricColumns(names[i:j], dimensions[i:j], times[i:j], [None] * len(names[i:j]), values[i:j])
        try:
            stored += metrics.put_metric_columns(namespace, cols, max_items=None)
        except Invalid as e:
            refused += len(cols)
            reason = reason or e.message
    return stored, refused, reason


def door(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        try:
            await authenticate(runtime, request)
            enc = request.headers.get("content-encoding", "snappy").strip().lower()
            if enc != "snappy":
                raise IntakeError(415, f"Content-Encoding {enc!r} is not supported: remote_write uses snappy")
            limit = runtime.settings.max_body_bytes
            req = decode(await read_body(request, limit), limit)
            _stored, refused, reason = await anyio.to_thread.run_sync(write, runtime, req)
            if refused:
                # Prometheus drops a batch answered with 4xx instead of retrying it forever.
                return PlainTextResponse(f"{refused} samples refused: {reason}", 400)
            return Response(status_code=204)
        except IntakeError as e:
            return PlainTextResponse(e.message, e.status)
        except (Throttled, Unavailable) as e:
            return PlainTextResponse(e.message, 429 if isinstance(e, Throttled) else 503,
                                     headers={"Retry-After": "1"})
        except RexwatchError as e:
            return PlainTextResponse(e.message, 400 if e.status < 500 else 503)
        except Exception:
            rid = request.scope.get("state", {}).get("request_id", "")
            log.exception("remote_write failed", extra={"request_id": rid})
            return PlainTextResponse(f"internal error; request id {rid}", 500)

    return handle


ROUTES = (("/api/v1/write", door), ("/api/v1/push", door))

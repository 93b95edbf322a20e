"""``POST /api/v1/write`` and ``POST /api/v1/push``: Prometheus remote_write (protocol 1.0; 2.0 beside it).

The body is a snappy-compressed (block format) protobuf ``prometheus.WriteRequest``,
or a 2.0 ``io.prometheus.write.v2.Request`` when ``Content-Type`` says so with
``proto=`` (``prom_remote_write_v2``, which shares the label mapping, the series
cache and the batch put below); another ``proto=`` is a 415.
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
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

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


Field = tuple[str, int, int, str | None, bool]  # name, number, type, message type, repeated


def declare(filename: str, package: str, messages: dict[str, tuple[Field, ...]]) -> dict[str, type]:
    """Message classes from declarations made with protobuf's descriptor API (proto3, as the
    remote-write .proto files are), by name."""
    F = descriptor_pb2.FieldDescriptorProto
    fd = descriptor_pb2.FileDescriptorProto(name=filename, package=package, syntax="proto3")
    for name, fields in messages.items():
        m = fd.message_type.add(name=name)
        for fname, number, ftype, type_name, repeated in fields:
            f = m.field.add(name=fname, number=number, type=ftype,
                            label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
            if type_name:
                f.type_name = type_name
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))
            for name in messages}


def _messages():
    F = descriptor_pb2.FieldDescriptorProto
    m = declare("rexwatch/prompb_remote.proto", "prometheus", {
        "Label": (("name", 1, F.TYPE_STRING, None, False), ("value", 2, F.TYPE_STRING, None, False)),
        "Sample": (("value", 1, F.TYPE_DOUBLE, None, False), ("timestamp", 2, F.TYPE_INT64, None, False)),
        "TimeSeries": (("labels", 1, F.TYPE_MESSAGE, ".prometheus.Label", True),
                       ("samples", 2, F.TYPE_MESSAGE, ".prometheus.Sample", True)),
        # MetricMetadata.type is the MetricType enum on the wire: a varint, read here as int32.
        "MetricMetadata": (("type", 1, F.TYPE_INT32, None, False),
                           ("metric_family_name", 2, F.TYPE_STRING, None, False),
                           ("help", 4, F.TYPE_STRING, None, False), ("unit", 5, F.TYPE_STRING, None, False)),
        "WriteRequest": (("timeseries", 1, F.TYPE_MESSAGE, ".prometheus.TimeSeries", True),
                         ("metadata", 3, F.TYPE_MESSAGE, ".prometheus.MetricMetadata", True)),
        # The reading side declares a series' labels as raw bytes (a Label is length-delimited on the
        # wire, as bytes are): one bytes object per label instead of a message and two strings, and
        # the raw labels are the cache key below; a label is decoded only on a cache miss.
        "RawTimeSeries": (("labels", 1, F.TYPE_BYTES, None, True),
                          ("samples", 2, F.TYPE_MESSAGE, ".prometheus.Sample", True)),
        "RawWriteRequest": (("timeseries", 1, F.TYPE_MESSAGE, ".prometheus.RawTimeSeries", True),
                            ("metadata", 3, F.TYPE_MESSAGE, ".prometheus.MetricMetadata", True)),
    })
    return m["WriteRequest"], m["RawWriteRequest"], m["Label"]


# WriteRequest builds bodies (tests, benches); the door reads them as RawWriteRequest.
WriteRequest, RawWriteRequest, Label = _messages()


def unsnappy(body: bytes, limit: int) -> bytes:
    """The body, decompressed (snappy's block format), refused before decompressing past ``limit``."""
    try:
        size = cramjam.snappy.decompress_raw_len(body)
    except Exception as e:
        raise IntakeError(400, f"body is not snappy-compressed (block format): {e}")
    if size > limit:
        raise IntakeError(413, f"decompressed body of {size} bytes exceeds {limit} bytes")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as e:
        raise IntakeError(400, f"body is not valid snappy: {e}")


def parse(message: type, body: bytes, limit: int, name: str) -> Any:
    """A snappy body as ``message`` (protobuf checks every string field is UTF-8), or a 400 naming ``name``."""
    req = message()
    try:
        req.ParseFromString(unsnappy(body, limit))
    except DecodeError as e:
        raise IntakeError(400, f"body is not a protobuf {name}: {e}")
    return req


def decode(body: bytes, limit: int) -> object:
    return parse(RawWriteRequest, body, limit, "prometheus.WriteRequest")


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
    return remember(raw_labels, labels)


def remember(key: tuple, labels: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    """Map a label set to (metric name, dimensions) and cache it under ``key`` (v1 keys are tuples of
    bytes, v2 keys tuples of str, so the two protocols share the cache without colliding)."""
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
    _SERIES[key] = series = (name, dims)
    return series


NAMELESS = "a series has no __name__ label (or one over 255 characters)"


class Refusals:
    """What part of a request was refused: how many, and the first reason."""

    def __init__(self) -> None:
        self.refused = 0
        self.reason = ""

    def refuse(self, n: int, why: str) -> None:
        if n:
            self.refused += n
            self.reason = self.reason or why


class Batch(Refusals):
    """The samples of one request in the columns the batch put takes, and what was refused."""

    def __init__(self) -> None:
        super().__init__()
        now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
        self.oldest = now_ms - int(PAST_LIMIT.total_seconds() * 1000)
        self.newest = now_ms + int(FUTURE_LIMIT.total_seconds() * 1000)
        self.names: list[str] = []
        self.dimensions: list[list[tuple[str, str]]] = []
        self.times: list[int] = []
        self.values: list[float] = []
        self.skipped = 0  # NaNs: staleness markers, accepted and not stored

    def add(self, series: Iterable[tuple[str, list[tuple[str, str]], Any]]) -> None:
        """Series as (metric name, dimensions, samples: messages with ``value`` and ``timestamp`` in
        epoch ms). One call per request, so the per-sample loop runs on locals."""
        names, dimensions, times, values = self.names, self.dimensions, self.times, self.values
        oldest, newest = self.oldest, self.newest
        for name, dims, samples in series:
            for s in samples:
                v = s.value
                if math.isnan(v):
                    self.skipped += 1  # staleness markers are NaNs; a NaN is no datapoint either
                    continue
                if math.isinf(v) or not oldest <= s.timestamp <= newest or not storable(v):
                    self.refuse(1, f"{name}: a sample is infinite or its time is outside the last two weeks")
                    continue
                # Series with the same dimensions share one list: the batch put validates and encodes it once.
                names.append(name)
                dimensions.append(dims)
                times.append(s.timestamp)
                values.append(v)

    def put(self, runtime: Runtime) -> int:
        """Store the samples gathered; return how many were stored (the rest are counted refused)."""
        namespace = runtime.settings.prometheus_namespace
        metrics = runtime.service(MetricsService)
        names, dimensions, times, values = self.names, self.dimensions, self.times, self.values
        stored = 0
        for i in range(0, len(names), PUT_CHUNK):
            j = i + PUT_CHUNK
            cols = MetricColumns(names[i:j], dimensions[i:j], times[i:j], [None] * len(names[i:j]), values[i:j])
            try:
                stored += metrics.put_metric_columns(namespace, cols, max_items=None)
            except Invalid as e:
                self.refuse(len(cols), e.message)
        return stored


def write(runtime: Runtime, req) -> tuple[int, int, str]:
    """Store the samples; return (stored, refused, first reason)."""
    batch = Batch()
    batch.add(_named_series(req, batch))
    stored = batch.put(runtime)
    return stored, batch.refused, batch.reason


def _named_series(req, batch: Batch) -> Iterator[tuple[str, list[tuple[str, str]], Any]]:
    for ts in req.timeseries:
        raw_labels = tuple(ts.labels)
        series = _SERIES.get(raw_labels)
        if series is None:
            series = _series(raw_labels)
        name, dims = series
        if not name:
            batch.refuse(len(ts.samples), NAMELESS)
            continue
        yield name, dims, ts.samples


V1_PROTO = "prometheus.WriteRequest"


def message_of(content_type: str) -> str:
    """The protobuf message a request carries, by the ``proto=`` parameter of its Content-Type
    (none: 1.0's WriteRequest, as 1.0 senders send ``application/x-protobuf`` alone)."""
    from rexwatch.intake.prom_remote_write_v2 import PROTO as V2_PROTO

    proto = ""
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "proto":
            proto = value.strip().strip('"')
    if not proto or proto == V1_PROTO:
        return V1_PROTO
    if proto == V2_PROTO:
        return V2_PROTO
    raise IntakeError(415, f"Content-Type proto={proto[:100]!r} is not supported: remote_write accepts "
                           f"proto={V2_PROTO} (2.0) and proto={V1_PROTO} (1.0, also without proto=)")


def door(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    from rexwatch.intake import prom_remote_write_v2 as v2

    async def handle(request: Request) -> Response:
        try:
            await authenticate(runtime, request)
            enc = request.headers.get("content-encoding", "snappy").strip().lower()
            if enc != "snappy":
                raise IntakeError(415, f"Content-Encoding {enc!r} is not supported: remote_write uses snappy")
            proto = message_of(request.headers.get("content-type", ""))
            limit = runtime.settings.max_body_bytes
            if proto == v2.PROTO:
                return await write_v2(await read_body(request, limit), limit)
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

    async def write_v2(body: bytes, limit: int) -> Response:
        nothing = v2.Written().headers()  # a request refused whole wrote nothing
        try:
            req = v2.decode(body, limit)
            done = await anyio.to_thread.run_sync(v2.write, runtime, req)
        except IntakeError as e:
            return PlainTextResponse(e.message, e.status, headers=nothing)
        problem = done.problem()
        if problem:
            # A partial write is a 400 too (2.0 specification): not retried; the headers say what was written.
            return PlainTextResponse(problem, 400, headers=done.headers())
        return Response(status_code=204, headers=done.headers())

    return handle


ROUTES = (("/api/v1/write", door), ("/api/v1/push", door))

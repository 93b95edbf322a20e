"""Prometheus Remote-Write 2.0: the ``io.prometheus.write.v2.Request`` message and how it is stored.

It is served on the same paths as 1.0 (``prom_remote_write.door`` picks the
message by the ``proto=`` parameter of ``Content-Type``). The messages are
declared with protobuf's descriptor API, field numbers as the 2.0
specification gives them. Strings are interned: a request carries one
``symbols`` table and a series names its labels as pairs of indexes into it.

What is kept, and how it is answered (docs/intake.md):

- samples: as in 1.0 (the same label mapping, series cache and batch put);
  NaNs (staleness markers) are accepted and not stored, and count as written;
- native histograms (``histograms``): as distributions, the way OTLP exponential
  histograms are stored (``prom_native_histogram``); a malformed one is counted
  as refused, so the answer is a 400 naming it while the rest is written (the
  specification's partial write: not retried);
- exemplars: checked (their label references) and counted as written when
  their series is, then dropped: rexwatch has no exemplar store;
- metadata (type, help, unit): not read (float samples are stored raw, counters
  as counters; reading it costs a fifth of a series' time); ``created_timestamp`` is the
  start time of a cumulative native histogram (its first sample counts whole).

A request that cannot be read (not snappy, not the message, a string that is
not UTF-8, an odd number of label references or one past the symbols table,
in a series or an exemplar)
is refused whole with 400 before anything is stored. Every answer after
content negotiation carries the ``X-Prometheus-Remote-Write-*-Written`` headers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from google.protobuf import descriptor_pb2

from rexwatch.intake import otlp_metrics, prom_native_histogram
from rexwatch.intake.common import IntakeError
from rexwatch.intake.cumulative import CumulativeTracker
from rexwatch.intake.prom_remote_write import _SERIES, NAMELESS, Batch, Refusals, declare, parse, remember
from rexwatch.runtime import Runtime
from rexwatch.services.metrics.service import MetricsService

PROTO = "io.prometheus.write.v2.Request"


def _messages() -> dict[str, type]:
    F = descriptor_pb2.FieldDescriptorProto
    P = ".io.prometheus.write.v2."
    # Enums (Metadata.type, Histogram.reset_hint) are varints on the wire: read as int32. The
    # histogram's oneofs (count, zero_count) are plain fields here: the wire format is the same.
    return declare("rexwatch/prompb_write_v2.proto", "io.prometheus.write.v2", {
        "Sample": (("value", 1, F.TYPE_DOUBLE, None, False), ("timestamp", 2, F.TYPE_INT64, None, False)),
        "BucketSpan": (("offset", 1, F.TYPE_SINT32, None, False), ("length", 2, F.TYPE_UINT32, None, False)),
        "Histogram": (
            ("count_int", 1, F.TYPE_UINT64, None, False), ("count_float", 2, F.TYPE_DOUBLE, None, False),
            ("sum", 3, F.TYPE_DOUBLE, None, False), ("schema", 4, F.TYPE_SINT32, None, False),
            ("zero_threshold", 5, F.TYPE_DOUBLE, None, False),
            ("zero_count_int", 6, F.TYPE_UINT64, None, False), ("zero_count_float", 7, F.TYPE_DOUBLE, None, False),
            ("negative_spans", 8, F.TYPE_MESSAGE, P + "BucketSpan", True),
            ("negative_deltas", 9, F.TYPE_SINT64, None, True), ("negative_counts", 10, F.TYPE_DOUBLE, None, True),
            ("positive_spans", 11, F.TYPE_MESSAGE, P + "BucketSpan", True),
            ("positive_deltas", 12, F.TYPE_SINT64, None, True), ("positive_counts", 13, F.TYPE_DOUBLE, None, True),
            ("reset_hint", 14, F.TYPE_INT32, None, False), ("timestamp", 15, F.TYPE_INT64, None, False),
            ("custom_values", 16, F.TYPE_DOUBLE, None, True),
        ),
        "Exemplar": (("labels_refs", 1, F.TYPE_UINT32, None, True), ("value", 2, F.TYPE_DOUBLE, None, False),
                     ("timestamp", 3, F.TYPE_INT64, None, False)),
        "Metadata": (("type", 1, F.TYPE_INT32, None, False), ("help_ref", 3, F.TYPE_UINT32, None, False),
                     ("unit_ref", 4, F.TYPE_UINT32, None, False)),
        "TimeSeries": (
            ("labels_refs", 1, F.TYPE_UINT32, None, True),
            ("samples", 2, F.TYPE_MESSAGE, P + "Sample", True),
            ("histograms", 3, F.TYPE_MESSAGE, P + "Histogram", True),
            ("exemplars", 4, F.TYPE_MESSAGE, P + "Exemplar", True),
            ("metadata", 5, F.TYPE_MESSAGE, P + "Metadata", False),
            ("created_timestamp", 6, F.TYPE_INT64, None, False),
        ),
        # Fields 1 to 3 are reserved, so a 1.0 WriteRequest read as this message is empty.
        "Request": (("symbols", 4, F.TYPE_STRING, None, True),
                    ("timeseries", 5, F.TYPE_MESSAGE, P + "TimeSeries", True)),
    })


_M = _messages()
# Request builds bodies (tests, benches) and reads them.
Request = _M["Request"]


def decode(body: bytes, limit: int) -> object:
    return parse(Request, body, limit, PROTO)  # the symbols' UTF-8 checked by the parse


@dataclass
class Written:
    """What one request wrote, per kind, and why the rest was refused."""

    samples: int = 0
    histograms: int = 0
    exemplars: int = 0
    refused_samples: int = 0
    refused_histograms: int = 0
    reason: str = ""
    histogram_reason: str = ""

    def headers(self) -> dict[str, str]:
        return {"X-Prometheus-Remote-Write-Samples-Written": str(self.samples),
                "X-Prometheus-Remote-Write-Histograms-Written": str(self.histograms),
                "X-Prometheus-Remote-Write-Exemplars-Written": str(self.exemplars)}

    def problem(self) -> str:
        """The answer's message when something was refused ("" when all was written)."""
        parts = []
        if self.refused_samples:
            parts.append(f"{self.refused_samples} samples refused: {self.reason}")
        if self.refused_histograms:
            parts.append(f"{self.refused_histograms} histograms refused: {self.histogram_reason}")
        return "; ".join(parts)


def _malformed(what: str) -> IntakeError:
    return IntakeError(400, f"malformed {PROTO}: {what}")


def _check_refs(refs, symbols: int, what: str) -> None:
    if len(refs) & 1:
        raise _malformed(f"{what} has an odd number ({len(refs)}) of label references")
    if refs and max(refs) >= symbols:
        raise _malformed(f"{what} refers to symbol {max(refs)} of a table of {symbols}")


def write(runtime: Runtime, req) -> Written:
    """Store the samples of a v2 request. Malformed references raise before anything is stored."""
    batch = Batch()
    hist = _Histograms(runtime, batch)
    exemplars = [0]
    batch.add(_named_series(req, batch, hist, exemplars))
    stored = batch.put(runtime)
    histograms = hist.put()
    return Written(samples=stored + batch.skipped, histograms=histograms, exemplars=exemplars[0],
                   refused_samples=batch.refused, reason=batch.reason,
                   refused_histograms=hist.refused, histogram_reason=hist.reason)


def _named_series(req, batch: Batch, hist: _Histograms, exemplars: list[int]) -> Iterator[tuple]:
    """(metric name, dimensions, samples) of each series with a name; histograms go to ``hist``,
    exemplars are counted in ``exemplars[0]``. Raises on a malformed reference (the caller has
    stored nothing yet: the batch is put after the whole request is read)."""
    symbols = list(req.symbols)
    n = len(symbols)
    at = symbols.__getitem__
    for i, ts in enumerate(req.timeseries):
        refs = ts.labels_refs
        try:
            key = tuple(map(at, refs))
        except IndexError:
            _check_refs(refs, n, f"timeseries[{i}]")
            raise
        if len(key) & 1:
            _check_refs(refs, n, f"timeseries[{i}]")
        ex = ts.exemplars
        if ex:
            for e in ex:
                _check_refs(e.labels_refs, n, f"an exemplar of timeseries[{i}]")
        series = _SERIES.get(key)
        if series is None:
            series = remember(key, list(zip(key[::2], key[1::2], strict=True)))
        name, dims = series
        samples, hs = ts.samples, ts.histograms
        if not name:
            batch.refuse(len(samples), NAMELESS)
            hist.refuse(len(hs), NAMELESS)
            continue
        if hs:
            hist.add(name, dims, ts)
        if ex:
            exemplars[0] += len(ex)
        yield name, dims, samples


class _Histograms(Refusals):
    """Native histogram samples as distributions (stored as OTLP exponential histograms are):
    a cumulative histogram's buckets become increases since the series' previous sample (reset
    detection as for OTLP, ``created_timestamp`` as the start time); a gauge histogram's are kept."""

    def __init__(self, runtime: Runtime, batch: Batch) -> None:
        super().__init__()
        self.runtime = runtime
        self.oldest, self.newest = batch.oldest, batch.newest
        self.points = otlp_metrics.PointBatch(dt.datetime.now(dt.UTC))
        self.namespace = runtime.settings.prometheus_namespace
        self.tracker = runtime.service(CumulativeTracker)
        self.accepted = 0
        self.pending: list[tuple[str, list[tuple[str, str]], object]] = []

    def add(self, name: str, dims: list[tuple[str, str]], ts) -> None:
        # Read when the whole request has been checked (in put): a malformed request that is refused
        # must not move the series' cumulative state.
        self.pending.append((name, dims, ts))

    def _read(self, name: str, dims: list[tuple[str, str]], ts) -> None:
        start_ns = ts.created_timestamp * 1_000_000
        for h in ts.histograms:
            if not self.oldest <= h.timestamp <= self.newest:
                self.refuse(1, f"{name}: a histogram's time is outside the last two weeks")
                continue
            try:
                counts, reps = prom_native_histogram.buckets(h)
            except ValueError as e:
                self.refuse(1, f"{name}: a native histogram is malformed: {e}")
                continue
            if h.reset_hint != prom_native_histogram.GAUGE:
                counts = self.tracker.bucket_delta(("prometheus-native", self.namespace, name, tuple(dims)),
                                                   start_ns, counts)
            self.accepted += 1
            if counts:
                self.points.distribution(self.namespace, name, dims, h.timestamp, counts, reps, None)

    def put(self) -> int:
        """Store them; return how many histogram samples were written."""
        for pending in self.pending:
            self._read(*pending)
        if self.points.by_ns:
            otlp_metrics.put(self.runtime.service(MetricsService), self.points)
        if self.points.rejected:
            # A histogram of many buckets is several datums: count what was refused, at most all.
            lost = min(self.points.rejected, self.accepted)
            self.refuse(lost, self.points.problem)
            self.accepted -= lost
        return self.accepted

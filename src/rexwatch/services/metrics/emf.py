"""CloudWatch Embedded Metric Format: metrics extracted from log events.

A log event whose message is a JSON object with ``_aws.CloudWatchMetrics``
stays a log event and also yields metrics, as in CloudWatch Logs:

- each directive names a ``Namespace``, ``Dimensions`` (a list of dimension
  sets, each a list of member names; an empty set, or no sets, is the metric
  without dimensions)
  and ``Metrics`` (``Name``, optional ``Unit`` and ``StorageResolution`` 1 or 60);
- a metric's value is the root member of its name: a number, or an array of
  up to 100 numbers (each a sample); a dimension's value is the root member of
  its name and must be a string;
- ``_aws.Timestamp`` (epoch milliseconds) is the datapoints' time;
- one datum per metric and dimension set.

An event that breaks these rules is stored as a log event all the same and
counted (``rexwatch_rejected{kind="emf"}`` at ``/metrics``), as CloudWatch
counts EMF validation errors without failing PutLogEvents. A metric whose
member is absent is skipped, as CloudWatch does.

Extraction runs off the ingest path: the logs ingest buffer hands each stored
batch to ``offer``, which queues it (bounded; past the bound a batch is
dropped and counted) for a thread that publishes the datapoints.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections import defaultdict, deque
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from rexwatch.errors import Invalid
from rexwatch.services.metrics.model import (
    FUTURE_LIMIT,
    MAX_DIMENSIONS,
    MAX_ITEMS_PER_PUT,
    MAX_MAGNITUDE,
    PAST_LIMIT,
    UNITS,
    Datum,
)

log = logging.getLogger("rexwatch.metrics.emf")

MAX_DIRECTIVE_METRICS = 100
MAX_VALUES_PER_METRIC = 100
QUEUE_EVENTS = 200_000


class EmfError(ValueError):
    """Why an event's ``_aws`` metadata is not valid EMF."""


def _string(v: Any, what: str, limit: int = 255) -> str:
    if not isinstance(v, str) or not 1 <= len(v) <= limit:
        raise EmfError(f"{what} must be a string of 1 to {limit} characters")
    return v


def _number(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise EmfError(f"{what} must be a number")
    x = float(v)
    if math.isnan(x) or math.isinf(x) or abs(x) > MAX_MAGNITUDE:
        raise EmfError(f"{what} is out of range")
    return x


def extract(doc: Any, now: dt.datetime) -> list[tuple[str, Datum]]:
    """The (namespace, datum) pairs an EMF document yields; raise EmfError when it is not valid EMF."""
    meta = doc.get("_aws")
    if not isinstance(meta, dict):
        raise EmfError("_aws must be an object")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise EmfError("_aws.CloudWatchMetrics must be an array")
    ts_ms = meta.get("Timestamp")
    if isinstance(ts_ms, bool) or not isinstance(ts_ms, int | float) or ts_ms < 0:
        raise EmfError("_aws.Timestamp must be a number of milliseconds since the epoch")
    t = dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC)
    if t < now - PAST_LIMIT or t > now + FUTURE_LIMIT:
        raise EmfError("_aws.Timestamp is over two weeks old or over two hours ahead")
    out: list[tuple[str, Datum]] = []
    for i, d in enumerate(directives):
        where = f"_aws.CloudWatchMetrics[{i}]"
        if not isinstance(d, dict):
            raise EmfError(f"{where} must be an object")
        namespace = _string(d.get("Namespace"), f"{where}.Namespace")
        if namespace.startswith("AWS/"):
            raise EmfError(f"{where}.Namespace may not start with AWS/")
        sets = d.get("Dimensions", [[]])
        if not isinstance(sets, list) or not all(isinstance(s, list) for s in sets):
            raise EmfError(f"{where}.Dimensions must be an array of arrays of member names")
        dim_sets = []
        for j, names in enumerate(sets):
            if len(names) > MAX_DIMENSIONS:
                raise EmfError(f"{where}.Dimensions[{j}] has more than {MAX_DIMENSIONS} dimensions")
            dims = []
            for name in names:
                _string(name, f"{where}.Dimensions[{j}] member")
                value = doc.get(name)
                if not isinstance(value, str) or not 1 <= len(value) <= 1024:
                    raise EmfError(f"dimension {name!r} must be a root member holding a string")
                dims.append((name, value))
            dim_sets.append(dims)
        if not dim_sets:
            dim_sets = [[]]  # no dimension sets: the metric without dimensions
        metrics = d.get("Metrics")
        if not isinstance(metrics, list) or len(metrics) > MAX_DIRECTIVE_METRICS:
            raise EmfError(f"{where}.Metrics must be an array of at most {MAX_DIRECTIVE_METRICS} metrics")
        for k, m in enumerate(metrics):
            if not isinstance(m, dict):
                raise EmfError(f"{where}.Metrics[{k}] must be an object")
            name = _string(m.get("Name"), f"{where}.Metrics[{k}].Name")
            unit = m.get("Unit", "None")
            if unit not in UNITS:
                raise EmfError(f"{where}.Metrics[{k}].Unit {unit!r} is not a CloudWatch unit")
            res = m.get("StorageResolution", 60)
            if res not in (1, 60) or isinstance(res, bool):
                raise EmfError(f"{where}.Metrics[{k}].StorageResolution must be 1 or 60")
            raw = doc.get(name)
            if raw is None:
                continue  # no value for this metric in this event: nothing to publish
            if isinstance(raw, list):
                if not 1 <= len(raw) <= MAX_VALUES_PER_METRIC:
                    raise EmfError(f"metric {name!r} must have 1 to {MAX_VALUES_PER_METRIC} values")
                values = [_number(v, f"metric {name!r}") for v in raw]
            else:
                values = [_number(raw, f"metric {name!r}")]
            for dims in dim_sets:
                datum = (Datum(name, dims, t, value=values[0], unit=unit, storage_resolution=res)
                         if len(values) == 1 else
                         Datum(name, dims, t, values=values, unit=unit, storage_resolution=res))
                out.append((namespace, datum))
    return out


class EmfExtractor:
    """Publishes the metrics of EMF log events the logs service has stored."""

    def __init__(self, runtime: Any) -> None:
        from rexwatch.services.metrics.service import MetricsService

        self.runtime = runtime
        self.metrics = runtime.service(MetricsService)  # created first, so it closes after this
        self._queue: deque[pa.ChunkedArray] = deque()
        self._queued = 0
        self._cond = threading.Condition()
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self.events = 0  # EMF events whose metrics were published
        self.errors = 0  # EMF events refused
        self.dropped = 0  # events not examined because the queue was full
        self._rejected = runtime.metrics.rejected
        self._ingested = runtime.metrics.ingested.labels("emf_datapoints")
        self._thread = threading.Thread(target=self._run, name="emf", daemon=True)
        self._thread.start()
        runtime.on_close(self.close)

    def offer(self, batch: Any) -> None:
        """Ingest listener: keep the messages that may be EMF; never blocks."""
        messages = batch.table.column("message")
        candidates = messages.filter(pc.match_substring(messages, '"_aws"'))
        if len(candidates) == 0:
            return
        with self._cond:
            if self._closed:
                return
            if self._queued + len(candidates) > QUEUE_EVENTS:
                self.dropped += len(candidates)
                self._rejected.labels("emf", "queue_full").inc(len(candidates))
                return
            self._queue.append(candidates)
            self._queued += len(candidates)
            self._idle.clear()
            self._cond.notify()

    def wait_idle(self, timeout: float) -> bool:
        """Block until every queued batch is published (tests and shutdown)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._idle.set()
                    self._cond.wait()
                if not self._queue and self._closed:
                    self._idle.set()
                    return
                work = self._queue.popleft()
                self._queued -= len(work)
            try:
                self.process(work.to_pylist())
            except Exception:
                log.exception("EMF extraction failed for a batch of %d events", len(work))

    def process(self, messages: list[str]) -> None:
        now = dt.datetime.now(dt.UTC)
        by_ns: dict[str, list[Datum]] = defaultdict(list)
        for text in messages:
            try:
                doc = orjson.loads(text)
            except orjson.JSONDecodeError:
                continue  # text that merely mentions "_aws" is not EMF
            if not isinstance(doc, dict) or "_aws" not in doc:
                continue
            try:
                pairs = extract(doc, now)
            except EmfError as e:
                self.errors += 1
                self._rejected.labels("emf", "invalid").inc()
                log.debug("EMF event refused: %s", e)
                continue
            self.events += 1
            for namespace, datum in pairs:
                by_ns[namespace].append(datum)
        for namespace, datums in by_ns.items():
            for i in range(0, len(datums), MAX_ITEMS_PER_PUT):
                chunk = datums[i:i + MAX_ITEMS_PER_PUT]
                try:
                    self.metrics.put_metric_data(namespace, chunk)
                    self._ingested.inc(len(chunk))
                except Invalid as e:
                    self.errors += 1
                    self._rejected.labels("emf", "invalid").inc()
                    log.debug("EMF metrics refused: %s", e)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=10)


def attach_to_logs(runtime: Any, logs_service: Any) -> None:
    """Runtime hook: extract EMF metrics from every batch the logs service stores."""
    logs_service.add_ingest_listener(runtime.service(EmfExtractor).offer)

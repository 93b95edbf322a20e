"""What every exporter implements, and the data it is handed.

Exporters run only on the sender thread: they may block (with their timeout)
and raise ``ExportError``; the sender decides whether to retry or drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

try:  # a batch of thousands of lines encodes several times faster with orjson (a base dependency)
    import orjson

    def dumps(body: Any) -> bytes:
        return orjson.dumps(body)

    def loads(data: bytes) -> Any:
        return orjson.loads(data)
except ImportError:  # pragma: no cover
    import json

    def dumps(body: Any) -> bytes:
        return json.dumps(body, separators=(",", ":")).encode()

    def loads(data: bytes) -> Any:
        return json.loads(data)

# PutLogEvents limits (AWS's, which rexwatch enforces too).
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 262_144 - EVENT_OVERHEAD
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000
# PutMetricData accepts up to 1,000 datums per call, and up to 150 distinct values in one datum.
MAX_METRIC_DATUMS = 1_000
MAX_DATUM_VALUES = 150


class ExportError(Exception):
    """A batch was not delivered. ``retryable`` is false when sending it again cannot help (a 4xx)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class MetricDatum:
    """One statistic set: every value recorded for a series within one flush interval."""

    name: str
    dimensions: tuple[tuple[str, str], ...]
    unit: str
    timestamp: float  # epoch seconds
    count: float
    sum: float
    minimum: float
    maximum: float
    # When known: the values as (value, count) pairs, so the backend can compute percentiles
    # (PutMetricData's Values/Counts). count and sum above stay the exact totals.
    distribution: tuple[tuple[float, float], ...] | None = None


class Exporter:
    """Base class: subclasses send logs and metrics to one kind of backend."""

    def send_logs(self, group: str, stream: str, events: list[tuple[int, str]]) -> int:
        """Deliver events (epoch ms, message) in time order; return how many the backend rejected."""
        raise NotImplementedError

    def send_log_columns(self, group: str, stream: str, timestamps: Sequence[int], messages: Sequence[str]) -> int:
        """``send_logs`` for events held as two columns, as the sender keeps them; exporters that can
        build their body from the columns override it and skip making a pair per event."""
        return self.send_logs(group, stream, list(zip(timestamps, messages, strict=True)))

    def send_metrics(self, namespace: str, data: list[MetricDatum]) -> None:
        raise NotImplementedError

    def after_fork(self) -> None:
        """Called in a forked child: drop connections shared with the parent."""

    def close(self) -> None:
        """Release connections."""


class LogBatch:
    """One batch of log events as columns: epoch ms and lines, in time order."""

    __slots__ = ("messages", "timestamps")

    def __init__(self, timestamps: Sequence[int], messages: Sequence[str]) -> None:
        self.timestamps = timestamps
        self.messages = messages

    def __len__(self) -> int:
        return len(self.messages)


def _one_batch(timestamps: Sequence[int], messages: Sequence[str]) -> bool:
    """The usual round: time-sorted ASCII lines well under the limits fit one batch, checked in C
    (str.isascii reads a flag, so a line's length is its size without encoding it)."""
    n = len(messages)
    if not n or n > MAX_BATCH_EVENTS or timestamps[-1] - timestamps[0] > MAX_BATCH_SPAN_MS \
            or not all(map(str.isascii, messages)):
        return False
    total = sum(map(len, messages))
    return total + EVENT_OVERHEAD * n <= MAX_BATCH_BYTES and (total <= MAX_EVENT_BYTES
                                                               or max(map(len, messages)) <= MAX_EVENT_BYTES)


def column_batches(timestamps: Sequence[int], messages: Sequence[str]) -> list[tuple[Sequence[int], Sequence[str]]]:
    """``log_batches`` for time-sorted columns; the usual round (ASCII lines well under the limits) is
    checked in C and stays one batch, as it came."""
    if _one_batch(timestamps, messages):
        return [(timestamps, messages)]
    out: list[tuple[Sequence[int], Sequence[str]]] = []
    for batch in log_batches(list(zip(timestamps, messages, strict=True))):
        stamps, lines = zip(*batch, strict=True)
        out.append((stamps, lines))
    return out


def log_batches(events: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """Split time-sorted events into batches within PutLogEvents' count, size and 24-hour limits."""
    if events and _one_batch([events[0][0], events[-1][0]], [m for _, m in events]):
        return [events]
    batches: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    size = 0
    for ts, message in events:
        # str.isascii() reads a flag: most lines are ASCII and their length is their size, without encoding.
        encoded = len(message) if message.isascii() else len(message.encode("utf-8", "replace"))
        if encoded > MAX_EVENT_BYTES:
            # Cut on bytes and drop a split multibyte character rather than send an event AWS rejects.
            message = message.encode("utf-8", "replace")[:MAX_EVENT_BYTES].decode("utf-8", "ignore")
            encoded = len(message.encode("utf-8"))
        cost = encoded + EVENT_OVERHEAD
        if current and (len(current) >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES
                        or ts - current[0][0] > MAX_BATCH_SPAN_MS):
            batches.append(current)
            current, size = [], 0
        current.append((ts, message))
        size += cost
    if current:
        batches.append(current)
    return batches


def rejected_count(info: object, n: int) -> int:
    """How many events a PutLogEvents answer's ``rejectedLogEventsInfo`` says were skipped."""
    if not isinstance(info, dict):
        return 0
    rejected = 0
    too_new = info.get("tooNewLogEventStartIndex")
    if isinstance(too_new, int):
        rejected += n - too_new
    old = [v for v in (info.get("tooOldLogEventEndIndex"), info.get("expiredLogEventEndIndex")) if isinstance(v, int)]
    if old:
        rejected += max(old)  # end indexes are exclusive (as the server and AWS document them)
    return min(rejected, n)


def chunks(items: list, n: int) -> list[list]:
    return [items[i:i + n] for i in range(0, len(items), n)]


def split_values(d: MetricDatum) -> list[tuple[list[float], list[float]]]:
    """A datum's distribution as Values/Counts lists of at most ``MAX_DATUM_VALUES`` each."""
    pairs = list(d.distribution or ())
    return [([v for v, _ in part], [c for _, c in part]) for part in chunks(pairs, MAX_DATUM_VALUES)]

"""PutLogEvents: validation with partial acceptance, and the ingest buffer.

The buffer coalesces concurrent requests into one large Arrow insert. A
request returns only after the insert holding its events has completed, so an
acknowledged event is on disk (a killed process loses nothing it answered).
When more events are waiting than ``max_pending`` the request is refused with
``Throttled`` (HTTP 429 / ThrottlingException): memory stays bounded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rexwatch.errors import Invalid, Throttled, Unavailable
from rexwatch.lang.jsontext import extract_fields
from rexwatch.services.logs import rules
from rexwatch.services.logs.model import Group, LogEventBatch, RejectedEvents, Stream

log = logging.getLogger("rexwatch.logs")

FIELDS_TYPE = pa.map_(pa.string(), pa.string())
LISTENER_COLUMNS = ("group_id", "ts", "ingest_ts", "seq", "message")


@dataclass
class Accepted:
    table: pa.Table  # group_id, stream_id, log_stream, ts, message [, fields]
    rejected: RejectedEvents


@dataclass(frozen=True)
class IngestedBatch:
    """What one insert of the writer stored: every event with ``after_seq < seq <= last_seq``.

    ``table`` holds group_id, ts, ingest_ts, seq and message, in seq order. The writer
    assigns seq in commit order, so consecutive batches cover consecutive seq ranges.
    """

    after_seq: int
    last_seq: int
    table: pa.Table


def _index_of_first(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def validate(group: Group, stream: Stream, batch: LogEventBatch, now_ms: int) -> Accepted:
    """Check a PutLogEvents batch against the AWS limits; drop and report too old/new/expired events."""
    if not isinstance(batch, LogEventBatch) or len(batch) == 0:
        raise Invalid("logEvents must be a non-empty list of {timestamp, message}", field="logEvents")
    if len(batch) > rules.MAX_BATCH_EVENTS:
        raise Invalid(f"logEvents has {len(batch)} events; at most {rules.MAX_BATCH_EVENTS} are allowed "
                      "per PutLogEvents call", field="logEvents")
    arr = batch.events
    ts = arr.field("timestamp")
    msg = arr.field("message")
    if ts.null_count or msg.null_count:
        i = _index_of_first(np.asarray(pc.or_(pc.is_null(ts), pc.is_null(msg))))
        raise Invalid(f"logEvents[{i}] needs both timestamp and message", field="logEvents")
    sizes = pc.binary_length(msg).to_numpy()
    if (sizes == 0).any():
        raise Invalid(f"logEvents[{_index_of_first(sizes == 0)}].message must not be empty", field="logEvents")
    if (sizes > rules.MAX_EVENT_BYTES).any():
        raise Invalid(f"logEvents[{_index_of_first(sizes > rules.MAX_EVENT_BYTES)}].message is larger than "
                      f"{rules.MAX_EVENT_BYTES} bytes", field="logEvents")
    total = int(sizes.sum()) + rules.EVENT_OVERHEAD * len(sizes)
    if total > rules.MAX_BATCH_BYTES:
        raise Invalid(f"the batch is {total} bytes (messages + 26 per event); at most "
                      f"{rules.MAX_BATCH_BYTES} are allowed per PutLogEvents call", field="logEvents")
    t = ts.to_numpy()
    if len(t) > 1 and (np.diff(t) < 0).any():
        i = _index_of_first(np.diff(t) < 0) + 1
        raise Invalid(f"Log events in a single PutLogEvents request must be in chronological order "
                      f"(logEvents[{i}] is older than the one before it)", field="logEvents")
    if int(t[-1]) - int(t[0]) > rules.MAX_BATCH_SPAN_MS:
        raise Invalid("The batch of log events in a single PutLogEvents request cannot span more than 24 hours",
                      field="logEvents")
    # Sorted, so too-old and expired events are a prefix and too-new ones a suffix.
    too_old = int(np.searchsorted(t, now_ms - rules.TOO_OLD_MS, side="left"))
    first = too_old
    expired = None
    if group.retention_days:
        expired = int(np.searchsorted(t, now_ms - group.retention_days * 86_400_000, side="left")) or None
        first = max(first, expired or 0)
    too_new = int(np.searchsorted(t, now_ms + rules.TOO_NEW_MS, side="right"))
    rejected = RejectedEvents(too_old or None, expired, too_new if too_new < len(t) else None)
    last = too_new
    n = max(0, last - first)
    ts_kept = ts.slice(first, n)
    msg_kept = msg.slice(first, n)
    cols: dict[str, pa.Array] = {
        "group_id": pa.array(np.full(n, group.id, dtype=np.uint64)),
        "stream_id": pa.array(np.full(n, stream.id, dtype=np.uint64)),
        "log_stream": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)),
                                                     pa.array([stream.name])).dictionary_decode()
        if n else pa.array([], pa.string()),
        "ts": ts_kept.cast(pa.timestamp("ms", tz="UTC")),
        "message": msg_kept,
    }
    if group.index_fields and n:
        cols["fields"] = extract_fields(msg_kept, group.index_fields)
    return Accepted(pa.table(cols), rejected)


class _Item:
    __slots__ = ("future", "group", "table")

    def __init__(self, table: pa.Table, group: Group) -> None:
        self.table = table
        self.group = group
        self.future: Future[None] = Future()


class IngestBuffer:
    """Coalesce concurrent batches into big inserts; one writer thread assigns ``seq`` in commit order."""

    def __init__(self, insert: Callable[[pa.Table], None], first_seq: int, *, max_pending: int = 400_000,
                 max_batch: int = 200_000, linger_s: float = 0.002, wait_s: float = 60.0) -> None:
        self._insert = insert
        self._last_seq = first_seq
        self._committed_seq = first_seq
        self.max_pending = max_pending
        self.max_batch = max_batch
        self.linger_s = linger_s
        self.wait_s = wait_s
        self._items: list[_Item] = []
        self._pending = 0
        self._cond = threading.Condition()
        self._closed = False
        self.listeners: list[Callable[[IngestedBatch], None]] = []
        self.flushes = 0
        self._thread = threading.Thread(target=self._run, name="logs-ingest", daemon=True)
        self._thread.start()

    @property
    def last_seq(self) -> int:
        """The highest seq assigned so far."""
        return self._last_seq

    @property
    def committed_seq(self) -> int:
        """The highest seq of an insert that has returned: every event up to it that will ever be
        visible is visible now (one writer inserts in seq order), none after it is yet."""
        return self._committed_seq

    def submit(self, table: pa.Table, group: Group) -> None:
        """Queue ``table`` and wait until it is durably inserted."""
        if table.num_rows == 0:
            return
        item = _Item(table, group)
        with self._cond:
            if self._closed:
                raise Unavailable("the server is shutting down")
            if self._pending + table.num_rows > self.max_pending and self._pending:
                raise Throttled(f"ingest buffer is full ({self._pending} events waiting); retry with backoff")
            self._items.append(item)
            self._pending += table.num_rows
            self._cond.notify_all()
        try:
            item.future.result(timeout=self.wait_s)
        except TimeoutError:
            raise Unavailable("the telemetry store did not accept the events in time; retry")

    def _take(self) -> list[_Item]:
        with self._cond:
            while not self._items and not self._closed:
                self._cond.wait()
            if not self._items:
                return []
            if self.linger_s and self._pending < self.max_batch and not self._closed:
                deadline = time.monotonic() + self.linger_s
                while self._pending < self.max_batch and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
            taken, rows = [], 0
            while self._items and (not taken or rows + self._items[0].table.num_rows <= self.max_batch):
                it = self._items.pop(0)
                taken.append(it)
                rows += it.table.num_rows
            self._pending -= rows
            return taken

    def _run(self) -> None:
        while True:
            items = self._take()
            if not items:
                return
            try:
                inserted = self._write(items)
            except Exception as e:
                log.exception("log ingest insert failed")
                err = Unavailable(f"the telemetry store failed to store the events: {e}")
                for it in items:
                    it.future.set_exception(err)
                continue
            for it in items:
                it.future.set_result(None)
            self._notify(inserted)

    def _write(self, items: list[_Item]) -> list[IngestedBatch]:
        now = time.time_ns() // 1_000_000
        written = []
        # Tables with an explicit ``fields`` column (index-policy groups) and without go separately.
        for with_fields in (False, True):
            part = [it.table for it in items if ("fields" in it.table.column_names) == with_fields]
            if not part:
                continue
            table = pa.concat_tables(part)
            n = table.num_rows
            after = self._last_seq
            base = max(self._last_seq + 1, time.time_ns() // 1000)
            self._last_seq = base + n - 1
            table = table.append_column("seq", pa.array(np.arange(base, base + n, dtype=np.uint64)))
            table = table.append_column(
                "ingest_ts", pa.array(np.full(n, now, dtype=np.int64)).cast(pa.timestamp("ms", tz="UTC")))
            self._insert(table.combine_chunks())
            self._committed_seq = self._last_seq
            if self.listeners:
                written.append(IngestedBatch(after, self._last_seq, table.select(LISTENER_COLUMNS)))
        self.flushes += 1
        return written

    def _notify(self, batches: list[IngestedBatch]) -> None:
        for batch in batches:
            for fn in list(self.listeners):
                try:
                    fn(batch)
                except Exception:
                    log.exception("log ingest listener %r failed", fn)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=self.wait_s)

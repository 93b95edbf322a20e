"""The metric-filter worker: evaluates metric filters off the ingest path.

The logs ingest buffer calls ``offer`` with every batch it has stored, after
acknowledging it. ``offer`` only appends to a bounded in-memory queue (or, when
the queue is full, drops the batch and counts it), so no filter, however slow,
can delay a PutLogEvents acknowledgement. A thread evaluates the queued batches
in commit order.

Nothing acknowledged is lost: the worker keeps a high-water mark, the highest
``seq`` it has evaluated, in the control store. A batch that does not start
right after the mark (batches were dropped, an insert failed half-way, or the
process restarted) is preceded by a catch-up read of the missing seq range from
the log table itself. Datapoints are published before the mark moves past
them, so across a crash a batch can be evaluated twice (at least once), never
skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger("rexwatch.metrics.filters")

CATCH_UP_ROWS = 100_000
SAVE_EVERY_S = 1.0
RETRIES = 3


class FilterWorker:
    def __init__(self, filters: Any, logs: Any, runtime: Any) -> None:
        self.filters = filters
        self.logs = logs
        self.runtime = runtime
        self.repo = filters.store
        self.max_events = int(runtime.settings.metric_filter_queue_events)
        self.cursor_name = f"log_events:{runtime.telemetry.database}"
        # A test seam and the unit of work: evaluate(group_id, events) for one group's events.
        self.evaluate: Callable[[int, pa.Table], None] = filters.evaluate
        self._queue: deque[Any] = deque()
        self._queued = 0
        self._known_seq = 0  # the highest seq known to be stored (from dropped batches)
        self._cond = threading.Condition()
        self._closed = False
        self._saved_at = 0.0
        self.dropped_batches = 0
        self.batches = 0
        self.caught_up_events = 0
        hwm = self.repo.cursor(self.cursor_name)
        if hwm is None:
            # First start: filters apply to what is ingested from now on.
            hwm = logs.buffer.last_seq
            self.repo.save_cursor(self.cursor_name, hwm)
        self.hwm = int(hwm)
        self._known_seq = max(self.hwm, logs.buffer.last_seq)
        self._gauge = runtime.metrics.buffer_fill.labels("metric_filter_queue")
        self._ticks = runtime.metrics.worker_ticks
        self._thread = threading.Thread(target=self._run, name="metric-filters", daemon=True)
        self._thread.start()

    # -- the ingest side: never blocks -------------------------------------------------------------
    def offer(self, batch: Any) -> None:
        """Ingest listener: queue a stored batch, or drop it (it will be re-read) when the queue is full."""
        n = batch.table.num_rows
        with self._cond:
            if self._closed:
                return
            if self._queued + n > self.max_events and self._queue:
                self.dropped_batches += 1
                self._known_seq = max(self._known_seq, batch.last_seq)
                self._ticks.labels("metric_filters", "dropped").inc()
            else:
                self._queue.append(batch)
                self._queued += n
                self._gauge.set(self._queued)
            self._cond.notify_all()

    # -- the worker thread -------------------------------------------------------------------------
    def _next(self) -> Any | None:
        with self._cond:
            while not self._queue and self._known_seq <= self.hwm and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            if self._queue:
                batch = self._queue.popleft()
                self._queued -= batch.table.num_rows
                self._gauge.set(self._queued)
                return batch
            return self._known_seq  # nothing queued, but stored events were dropped: catch up

    def _run(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            try:
                with self.runtime.metrics.ticks.round("metric_filters"):
                    self._work(item)
            except _Stopped:
                return
            except Exception:
                self._ticks.labels("metric_filters", "error").inc()
                log.exception("metric filter worker failed; it re-reads from seq %d", self.hwm)
                with self._cond:
                    self._known_seq = max(self._known_seq, item if isinstance(item, int) else item.last_seq)
                    self._cond.wait(1.0)

    def _work(self, item: Any) -> None:
        if isinstance(item, int):
            self._catch_up(item)
            return
        if item.after_seq > self.hwm:
            self._catch_up(item.after_seq)
        if item.last_seq > self.hwm:
            table = item.table
            if item.after_seq < self.hwm:  # partly covered by a catch-up read
                table = table.filter(pc.greater(table.column("seq"), pa.scalar(self.hwm, pa.uint64())))
            self._evaluate(table)
            self._advance(item.last_seq)
        self.batches += 1
        self._ticks.labels("metric_filters", "ok").inc()

    def _catch_up(self, upto: int) -> None:
        """Evaluate the stored events in (hwm, upto] from the log table."""
        while self.hwm < upto:
            groups = sorted(self.filters.filtered_groups())
            if not groups:
                self._advance(upto)
                return
            table = self.logs.store.events_after(groups, self.hwm, upto, CATCH_UP_ROWS)
            if table.num_rows:
                self._evaluate(table)
                self.caught_up_events += table.num_rows
            done = upto if table.num_rows < CATCH_UP_ROWS else int(table.column("seq")[-1].as_py())
            self._advance(done, force=True)
            self._ticks.labels("metric_filters", "caught_up").inc()

    def _evaluate(self, table: pa.Table) -> None:
        groups = self.filters.filtered_groups()
        if not groups or table.num_rows == 0:
            return
        gid_col = table.column("group_id")
        for gid in pc.unique(gid_col).to_pylist():
            if gid not in groups:
                continue
            part = table.filter(pc.equal(gid_col, pa.scalar(gid, pa.uint64())))
            for attempt in range(RETRIES):
                if self._closed:
                    raise _Stopped
                try:
                    self.evaluate(gid, part)
                    break
                except Exception:
                    if attempt == RETRIES - 1:
                        log.exception("metric filters of group %d failed on %d events; skipped", gid, part.num_rows)
                        self._ticks.labels("metric_filters", "skipped").inc()
                    else:
                        time.sleep(0.1 * (attempt + 1))

    def _advance(self, seq: int, force: bool = False) -> None:
        self.hwm = max(self.hwm, seq)
        now = time.monotonic()
        if force or now - self._saved_at >= SAVE_EVERY_S or self.filters.filtered_groups():
            self.repo.save_cursor(self.cursor_name, self.hwm)
            self._saved_at = now

    # -- status and shutdown -----------------------------------------------------------------------
    def idle(self) -> bool:
        """True when everything stored so far has been evaluated."""
        with self._cond:
            return not self._queue and self.hwm >= max(self._known_seq, self.logs.buffer.last_seq)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=30)
        try:
            self.repo.save_cursor(self.cursor_name, self.hwm)
        except Exception:
            log.exception("could not save the metric filter cursor at %d", self.hwm)


class _Stopped(Exception):
    """The worker was closed while evaluating; what it did not finish is re-read next start."""

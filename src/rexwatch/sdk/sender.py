"""The background sender: bounded buffers in, batches out, never in the application's way.

Application threads only append to a bounded list under a lock (or count a
drop when it is full); one daemon thread per process drains the buffers every
``flush_interval`` (sooner when a batch fills) and calls the exporter. A failed
batch is kept for a few retries with backoff while the buffers stay bounded, so
memory is bounded however long the server is down. Forked children (gunicorn,
uvicorn workers) start over with empty buffers, fresh connections and their own
log stream.
"""

from __future__ import annotations

import atexit
import logging
import operator
import os
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from rexwatch.sdk.config import Config, default_stream
from rexwatch.sdk.exporters import Exporter, ExportError
from rexwatch.sdk.exporters.base import LogBatch, column_batches
from rexwatch.sdk.metrics import Aggregator

# The SDK's own troubles go to this logger, which the SDK's handler never ships (no feedback loop).
log = logging.getLogger("rexwatch.sdk")
MAX_ATTEMPTS = 3
MAX_BACKOFF = 30.0


@dataclass
class Stats:
    """Counters an application can read (``rexwatch.sdk.stats()``) and alarm on."""

    logs_sent: int = 0
    logs_dropped: int = 0      # the buffer was full
    logs_failed: int = 0       # given up after retries, or refused by the server
    logs_rejected: int = 0     # accepted by the call but skipped (too old / too new)
    metrics_sent: int = 0
    metrics_dropped: int = 0
    metrics_failed: int = 0
    send_errors: int = 0
    last_error: str = ""
    ticks: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Pending:
    kind: str  # "logs" or "metrics"
    key: str   # group or namespace
    items: Any = field(default_factory=list)  # a LogBatch, or a list of MetricDatum
    attempts: int = 0
    retryable: bool = True


_SENDERS: weakref.WeakSet[Sender] = weakref.WeakSet()


def _columns(logs: list[tuple[str, int, str]]) -> dict[str, tuple[Sequence[int], Sequence[str]]]:
    """(group, ms, line) entries as {group: (timestamps, lines)}. Most rounds hold one group: then one
    transposition in C, with no object made per line."""
    if not logs:
        return {}
    groups, stamps, lines = zip(*logs, strict=True)
    first = groups[0]
    if groups.count(first) == len(groups):
        return {first: (stamps, lines)}
    out: dict[str, tuple[list[int], list[str]]] = {}
    for group, ts, message in logs:
        g = out.get(group)
        if g is None:
            g = out[group] = ([], [])
        g[0].append(ts)
        g[1].append(message)
    return out


def _in_time_order(stamps: Sequence[int], lines: Sequence[str]) -> tuple[Sequence[int], Sequence[str]]:
    """Lines are appended nearly in time order (threads race only within a millisecond or so): check in
    C, and sort only when some are out of order."""
    if all(map(operator.le, stamps, islice(stamps, 1, None))):
        return stamps, lines
    order = sorted(range(len(stamps)), key=stamps.__getitem__)
    return [stamps[i] for i in order], [lines[i] for i in order]


def _after_fork_in_child() -> None:
    for sender in list(_SENDERS):
        sender._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Sender:
    def __init__(self, config: Config, exporter: Exporter) -> None:
        self.config = config
        self.exporter = exporter
        self.aggregator = Aggregator()
        self.stats = Stats()
        self.collectors: list[Any] = []  # called on the sender thread before each metrics drain
        self._stream_is_default = config.log_stream == default_stream()
        self._lock = threading.Lock()
        self._logs: list[tuple[str, int, str]] = []
        self._pending: list[_Pending] = []
        self._wake = threading.Event()
        self._flushed = threading.Condition(threading.Lock())
        self._flush_requests = 0
        self._flush_done = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._backoff_until = 0.0
        self._backoff = 0.0
        self._last_ok = True
        _SENDERS.add(self)
        atexit.register(self.shutdown)

    # Application side: cheap, never blocks on I/O, never raises. ---------------------------------------

    def emit_log(self, group: str, timestamp_ms: int, message: str) -> bool:
        if self._thread is None:
            self._start()
        with self._lock:
            if len(self._logs) >= self.config.max_queue:
                self.stats.logs_dropped += 1
                return False
            self._logs.append((group, timestamp_ms, message))
            n = len(self._logs)
        if n == self.config.batch_size:
            self._wake.set()
        return True

    def ensure_started(self) -> None:
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stopping:
                return
            self._thread = threading.Thread(target=self._run, name="rexwatch-sdk-sender", daemon=True)
            self._thread.start()

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything buffered now; wait up to ``timeout`` seconds. True when it all went out."""
        timeout = self.config.shutdown_timeout if timeout is None else timeout
        thread = self._thread
        if thread is None or not thread.is_alive():
            return self._drain_once(time.monotonic() + timeout)
        with self._flushed:
            self._flush_requests += 1
            ticket = self._flush_requests
        self._wake.set()
        deadline = time.monotonic() + timeout
        with self._flushed:
            while self._flush_done < ticket:
                left = deadline - time.monotonic()
                if left <= 0 or not thread.is_alive():
                    return False
                self._flushed.wait(left)
        return self._last_ok

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush within ``timeout`` (the configured shutdown deadline by default) and stop the thread."""
        if self._stopping:
            return True
        timeout = self.config.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        ok = self.flush(timeout)
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
        try:
            self.exporter.close()
        except Exception:
            pass
        atexit.unregister(self.shutdown)
        return ok

    def _after_fork(self) -> None:
        # Whatever the parent buffered is the parent's to send; the child must not send it twice.
        self._lock = threading.Lock()
        self._flushed = threading.Condition(threading.Lock())
        self._logs = []
        self._pending = []
        self._wake = threading.Event()
        self._thread = None
        self._flush_requests = self._flush_done = 0
        self.stats = Stats()
        self.aggregator.reset()
        if self._stream_is_default:
            self.config.log_stream = default_stream()
        try:
            self.exporter.after_fork()
        except Exception:
            pass

    # Sender thread. ---------------------------------------------------------------------------------

    def _run(self) -> None:
        interval = self.config.flush_interval
        next_tick = time.monotonic() + interval
        while not self._stopping:
            self._wake.wait(max(0.0, next_tick - time.monotonic()))
            self._wake.clear()
            if self._stopping:
                break
            with self._flushed:
                wanted = self._flush_requests
            now = time.monotonic()
            full = len(self._logs) >= self.config.batch_size
            tick = now >= next_tick
            forced = wanted > self._flush_done
            if tick or forced or full:
                if tick:
                    next_tick = now + interval
                # A full batch sends only the lines: metrics (and the collectors feeding them) go once per
                # interval, one statistic set per series, however many batches the interval fills.
                self._last_ok = self._drain_once(now + self.config.timeout * 4, force=forced,
                                                 metrics=tick or forced)
            with self._flushed:
                self._flush_done = max(self._flush_done, wanted)
                self._flushed.notify_all()

    def _drain_once(self, deadline: float, force: bool = True, metrics: bool = True) -> bool:
        """One round: collect, batch, send. Runs on the sender thread (or the caller's when none runs)."""
        self.stats.ticks += 1
        if metrics:
            for collect in list(self.collectors):
                try:
                    collect()
                except Exception as e:  # a collector's bug must not stop the sending
                    log.debug("collector failed: %r", e)
        with self._lock:
            logs, self._logs = self._logs, []
        work, self._pending = self._pending, []
        for group, (stamps, lines) in _columns(logs).items():
            stamps, lines = _in_time_order(stamps, lines)
            work.extend(_Pending("logs", group, LogBatch(ts, ms)) for ts, ms in column_batches(stamps, lines))
        if metrics:
            try:
                drained = self.aggregator.drain()
            except Exception as e:
                log.debug("metrics drain failed: %r", e)
                drained = {}
            for namespace, data in drained.items():
                work.append(_Pending("metrics", namespace, data))
            self.stats.metrics_dropped += self.aggregator.dropped
            self.aggregator.dropped = 0
        else:
            try:  # keep the requests' backlog short, so no request has to fold it
                self.aggregator.fold()
            except Exception as e:
                log.debug("metrics fold failed: %r", e)
        if not force and time.monotonic() < self._backoff_until:
            self._keep(work)
            return False
        for i, item in enumerate(work):
            if time.monotonic() >= deadline:
                self._keep(work[i:])
                return False
            if not self._send(item):
                # Keep the failed batch if it may pass later, and the rest for the next round instead of
                # waiting out a timeout on each of them now.
                retry = item.attempts < MAX_ATTEMPTS and item.retryable
                if not retry:
                    self._give_up(item)
                self._keep(work[i if retry else i + 1:])
                return False
        return True

    def _send(self, item: _Pending) -> bool:
        try:
            if item.kind == "logs":
                batch = item.items
                rejected = self.exporter.send_log_columns(item.key, self.config.log_stream or default_stream(),
                                                          batch.timestamps, batch.messages)
                self.stats.logs_sent += len(item.items) - rejected
                self.stats.logs_rejected += rejected
            else:
                self.exporter.send_metrics(item.key, item.items)
                self.stats.metrics_sent += len(item.items)
        except Exception as e:
            self.stats.send_errors += 1
            self.stats.last_error = str(e)[:500]
            item.retryable = e.retryable if isinstance(e, ExportError) else False
            item.attempts += 1
            self._backoff = min(MAX_BACKOFF, max(self.config.flush_interval, self._backoff * 2))
            self._backoff_until = time.monotonic() + self._backoff
            log.debug("send failed: %s", e)
            return False
        self._backoff = 0.0
        self._backoff_until = 0.0
        return True

    def _keep(self, items: list[_Pending]) -> None:
        """Keep unsent batches for the next round, within the same bound as the buffer."""
        budget = self.config.max_queue
        kept: list[_Pending] = []
        for item in items:
            n = len(item.items)
            if n <= budget:
                kept.append(item)
                budget -= n
            else:
                self._give_up(item)
        self._pending = kept

    def _give_up(self, item: _Pending) -> None:
        if item.kind == "logs":
            self.stats.logs_failed += len(item.items)
        else:
            self.stats.metrics_failed += len(item.items)


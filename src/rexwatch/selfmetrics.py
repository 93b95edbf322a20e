"""The server's own metrics, exposed in Prometheus text format at /metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector


class Ticks:
    """How many rounds each background worker has started and finished.

    A round is one unit of a worker's loop (an evaluator tick, a notifier
    round, a prober flush, one metric-filter batch). Counting starts as well as
    ends lets a waiter ask for "n rounds that began after now", which is what a
    test or an operator means by "the worker has seen my change": a round that
    was already running when the change was made may have missed it.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._started: dict[str, int] = {}
        self._finished: dict[str, int] = {}
        self._cond = threading.Condition()
        self._starts = Counter("rexwatch_worker_round_starts", "Worker rounds started, by worker.", ["worker"],
                               registry=registry)
        self._ends = Counter("rexwatch_worker_rounds", "Worker rounds finished (whatever their outcome), "
                             "by worker.", ["worker"], registry=registry)

    @contextmanager
    def round(self, worker: str) -> Iterator[None]:
        with self._cond:
            self._started[worker] = self._started.get(worker, 0) + 1
        self._starts.labels(worker).inc()
        try:
            yield
        finally:
            with self._cond:
                self._finished[worker] = self._finished.get(worker, 0) + 1
                self._cond.notify_all()
            self._ends.labels(worker).inc()

    def started(self, worker: str) -> int:
        with self._cond:
            return self._started.get(worker, 0)

    def finished(self, worker: str) -> int:
        with self._cond:
            return self._finished.get(worker, 0)

    def wait(self, worker: str, n: int = 1, timeout: float = 60.0) -> int:
        """Block until ``n`` rounds that start after this call have finished; returns the finished count.

        Raises TimeoutError naming the worker when they do not come within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._started.get(worker, 0) + n
            while self._finished.get(worker, 0) < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"worker {worker!r}: {self._finished.get(worker, 0)} rounds finished, waited for "
                        f"{target} within {timeout:g} s"
                    )
                self._cond.wait(left)
            return self._finished[worker]


class ServerMetrics:
    """One registry per runtime, so several in-process servers (tests) do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "rexwatch_http_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rexwatch_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.ingested = Counter(
            "rexwatch_ingested",
            "Items accepted into the telemetry store, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "rexwatch_rejected",
            "Items refused at ingest, by kind and reason.",
            ["kind", "reason"],
            registry=self.registry,
        )
        self.store_errors = Counter(
            "rexwatch_store_errors",
            "Errors raised by a store.",
            ["store"],
            registry=self.registry,
        )
        self.worker_ticks = Counter(
            "rexwatch_worker_ticks",
            "Worker ticks by worker and outcome.",
            ["worker", "outcome"],
            registry=self.registry,
        )
        self.ticks = Ticks(self.registry)
        # Set by the selfwatch worker while it runs: called by the request middleware with every
        # finished request (it only appends to a bounded buffer; the worker writes in batches).
        self.request_sink: Callable[..., None] | None = None
        self._ingest_lock = threading.Lock()
        self._ingest_totals: dict[str, int] = {}
        self.buffer_fill = Gauge(
            "rexwatch_ingest_buffer_items",
            "Items waiting in an ingest buffer.",
            ["kind"],
            registry=self.registry,
        )

    def count_ingest(self, kind: str, n: int) -> None:
        """Items accepted by an ingest path (log_events, metric_data): /metrics and the selfwatch worker."""
        self.ingested.labels(kind).inc(n)
        with self._ingest_lock:
            self._ingest_totals[kind] = self._ingest_totals.get(kind, 0) + n

    def ingest_totals(self) -> dict[str, int]:
        with self._ingest_lock:
            return dict(self._ingest_totals)

    def render(self) -> bytes:
        return generate_latest(self.registry)

"""The server watches itself: its request log, its own metrics and a health monitor, in its own stores.

While this worker runs, the request middleware hands it every finished request
(``ServerMetrics.request_sink``), which only appends to a bounded buffer. Every
``self_monitor_flush_s`` one tick drains the buffer and writes:

- one PutLogEvents batch to the request-log group (``self_monitor_log_group``),
  one JSON line per request;
- one PutMetricData batch to ``self_monitor_namespace``: request, error and
  ingest counts, and request latencies as value/count pairs (so percentiles work).

Nothing it writes feeds back into itself: both writes go straight to the
services, not through HTTP, so they make no request-log entries, and the
ingest counts it publishes leave out its own events and datapoints.

On its first tick it creates the log group (with ``self_monitor_retention_days``)
and, unless ``self_monitor_health_interval_s`` is 0, an HTTP uptime monitor named
``rexwatch server`` on the server's own ``/health``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import socket
import threading
import time
from collections import Counter
from typing import Any

import orjson

from rexwatch.errors import Conflict
from rexwatch.runtime import Runtime
from rexwatch.workers.base import Worker

log = logging.getLogger("rexwatch.selfwatch")

HEALTH_MONITOR = "rexwatch server"
MAX_PATH = 1024  # characters of a request path kept in the log (hostile paths can be long)
MAX_VALUES = 150  # values per datum (PutMetricData's limit for Values/Counts)


def door(route: str) -> str:
    """Which front door served a request: a dimension with a handful of values, whatever the traffic."""
    if route.startswith("aws:"):
        return "aws"
    if route.startswith("/api/v1"):
        return "api"
    if route in ("/health", "/metrics"):
        return "system"
    return "web"


def _round2(ms: float) -> float:
    """Two significant digits: latencies fold into few distinct values (errors below 5 %)."""
    if ms <= 0:
        return 0.0
    digits = 1 - math.floor(math.log10(ms))
    return round(ms, digits)


class RequestBuffer:
    """Finished requests waiting for the next flush; bounded, drops (and counts) past ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.entries: list[tuple] = []
        self.dropped = 0
        self._lock = threading.Lock()

    def __call__(self, method: str, path: str, status: int, elapsed: float, route: str, request_id: str) -> None:
        entry = (int(time.time() * 1000), method, path[:MAX_PATH], status, elapsed * 1000, route, request_id)
        with self._lock:
            if len(self.entries) >= self.limit:
                self.dropped += 1
            else:
                self.entries.append(entry)

    def drain(self) -> tuple[list[tuple], int]:
        with self._lock:
            entries, self.entries = self.entries, []
            dropped, self.dropped = self.dropped, 0
        return entries, dropped


class SelfWatchWorker(Worker):
    name = "selfwatch"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        s = runtime.settings
        self.interval = float(s.self_monitor_flush_s)
        self.enabled = bool(s.self_monitor)
        self.group = s.self_monitor_log_group
        self.namespace = s.self_monitor_namespace
        self.stream = f"{socket.gethostname()[:200]}".replace(":", "-").replace("*", "-") or "server"
        self.buffer = RequestBuffer(int(s.self_monitor_buffer))
        self.ready = False
        self.own_events = 0  # log events this tick wrote itself, left out of the published ingest counts
        self.last_totals: dict[str, int] | None = None
        if self.enabled:
            runtime.metrics.request_sink = self.buffer

    # Setup ------------------------------------------------------------------------------------------

    def _setup(self) -> None:
        from rexwatch.services.logs import LogsService

        logs = self.runtime.service(LogsService)
        try:
            logs.create_log_group(self.group)
            logs.put_retention_policy(self.group, int(self.runtime.settings.self_monitor_retention_days))
        except Conflict:
            pass  # kept as the operator left it (their retention, their tags)
        try:
            logs.create_log_stream(self.group, self.stream)
        except Conflict:
            pass
        if self.runtime.settings.self_monitor_health_interval_s > 0:
            self._health_monitor()
        self.ready = True

    def _health_monitor(self) -> None:
        from rexwatch.services.monitors import MonitorService

        s = self.runtime.settings
        host = "127.0.0.1" if s.host in ("0.0.0.0", "::", "") else s.host
        host = f"[{host}]" if ":" in host else host
        url = f"http://{host}:{s.port}/health"
        interval = float(s.self_monitor_health_interval_s)
        monitors = self.runtime.service(MonitorService)
        mine = [m for m in monitors.list() if m["name"] == HEALTH_MONITOR]
        if not mine:
            monitors.create({"name": HEALTH_MONITOR, "type": "http", "url": url, "interval": interval,
                             "timeout": min(10.0, interval * 0.8)})
            log.info("selfwatch: created the uptime monitor %r on %s", HEALTH_MONITOR, url)
        elif mine[0]["config"].get("url") != url:
            # The server moved (another port or host): follow it rather than report it down forever.
            monitors.update(mine[0]["id"], {"url": url})

    # Ticks -------------------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        if not self.enabled:
            return
        if not self.ready:
            self._setup()
        self.flush(now)

    def flush(self, now: float) -> None:
        entries, dropped = self.buffer.drain()
        if entries:
            self._write_log(entries)
        self._write_metrics(entries, dropped, now)

    def _write_log(self, entries: list[tuple]) -> None:
        from rexwatch.services.logs import LogsService
        from rexwatch.services.logs.model import LogEventBatch

        lines = [
            (ts, orjson.dumps({"method": method, "path": path, "status": status,
                               "duration_ms": round(ms, 2), "route": route, "request_id": rid}).decode())
            for ts, method, path, status, ms, route, rid in entries
        ]
        logs = self.runtime.service(LogsService)
        for i in range(0, len(lines), 10_000):  # PutLogEvents' batch limit
            part = lines[i : i + 10_000]
            logs.put_log_events(self.group, self.stream, LogEventBatch.of(part))
            self.own_events += len(part)

    def _write_metrics(self, entries: list[tuple], dropped: int, now: float) -> None:
        from rexwatch.services.metrics import Datum, MetricsService

        at = dt.datetime.fromtimestamp(now, dt.UTC)
        data: list[Datum] = []

        def count(name: str, value: float, dims: list[tuple[str, str]] | None = None) -> None:
            data.append(Datum(metric_name=name, dimensions=dims or [], timestamp=at, value=float(value),
                              unit="Count"))

        by_door: Counter[str] = Counter()
        latencies: dict[str, Counter[float]] = {}
        errors = client_errors = 0
        for _ts, _method, _path, status, ms, route, _rid in entries:
            d = door(route)
            by_door[d] += 1
            latencies.setdefault(d, Counter())[_round2(ms)] += 1
            errors += status >= 500
            client_errors += 400 <= status < 500
        count("Requests", len(entries))
        count("ServerErrors", errors)
        count("ClientErrors", client_errors)
        for d, n in sorted(by_door.items()):
            count("Requests", n, [("Door", d)])
        everything: Counter[float] = Counter()
        for d, values in sorted(latencies.items()):
            everything.update(values)
            data.extend(self._latency(values, at, [("Door", d)]))
        data.extend(self._latency(everything, at, []))
        # Read after this tick's own log write: the deltas below leave out what this worker wrote.
        totals = self.runtime.metrics.ingest_totals()
        # The counters start at zero with the process, so the first tick counts everything since start:
        # data a client sent before that tick is the user's and must not become the baseline.
        prev = self.last_totals or {}
        events = totals.get("log_events", 0) - prev.get("log_events", 0) - self.own_events
        points = totals.get("metric_data", 0) - prev.get("metric_data", 0)
        count("LogEventsIngested", max(0, events))
        count("MetricDataIngested", max(0, points))
        if dropped:
            count("RequestLogDropped", dropped)
            log.warning("selfwatch: %d request-log entries dropped (buffer of %d full)", dropped,
                        self.buffer.limit)
        written = self.runtime.service(MetricsService).put_metric_data(self.namespace, data)
        totals["metric_data"] = totals.get("metric_data", 0) + written
        self.last_totals = totals
        self.own_events = 0

    @staticmethod
    def _latency(values: Counter[float], at: dt.datetime, dims: list[tuple[str, str]]) -> list[Any]:
        from rexwatch.services.metrics import Datum

        items = sorted(values.items())
        return [
            Datum(metric_name="Latency", dimensions=dims, timestamp=at,
                  values=[v for v, _ in items[i : i + MAX_VALUES]],
                  counts=[float(c) for _, c in items[i : i + MAX_VALUES]], unit="Milliseconds")
            for i in range(0, len(items), MAX_VALUES)
        ]

    def close(self) -> None:
        if self.runtime.metrics.request_sink is self.buffer:
            self.runtime.metrics.request_sink = None
        if self.enabled and self.ready:
            try:
                self.flush(time.time())
            except Exception:  # shutting down goes on whatever the stores say
                log.exception("selfwatch: the last flush failed")

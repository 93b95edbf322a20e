"""The agent's loop: collect, buffer on disk, send in order; and ``--once``."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from typing import Any

from rexwatch.agent import collectors as registry
from rexwatch.agent.config import AgentConfig
from rexwatch.agent.logfiles import Tailer
from rexwatch.agent.model import Collected, LogLine, Point
from rexwatch.agent.sender import Outcome, Sender
from rexwatch.agent.spool import Spool

log = logging.getLogger(__name__)

# Far below PutMetricData's 1,000 datums and PutLogEvents' 10,000 events / 1 MB per request.
MAX_POINTS = 500
MAX_EVENTS = 5_000
MAX_EVENT_BYTES = 800_000


def metric_payloads(agent: str, points: list[Point], now: float) -> list[dict[str, Any]]:
    by_ns: dict[str, list[dict]] = defaultdict(list)
    for p in points:
        d = p.wire()
        if not d["timestamp"]:
            d["timestamp"] = now
        by_ns[p.namespace].append(d)
    out = []
    for ns, data in by_ns.items():
        for i in range(0, len(data), MAX_POINTS):
            out.append({"kind": "metrics", "agent": agent, "namespace": ns, "metric_data": data[i:i + MAX_POINTS]})
    return out


def log_payloads(agent: str, lines: list[LogLine]) -> list[dict[str, Any]]:
    by_stream: dict[tuple[str, str], list[LogLine]] = defaultdict(list)
    for line in lines:
        by_stream[(line.group, line.stream)].append(line)
    out = []
    for (group, stream), items in by_stream.items():
        items.sort(key=lambda x: x.timestamp_ms)
        batch: list[dict] = []
        size = 0
        for it in items:
            ev_size = len(it.message.encode()) + 26
            if batch and (len(batch) >= MAX_EVENTS or size + ev_size > MAX_EVENT_BYTES):
                out.append({"kind": "logs", "agent": agent, "group": group, "stream": stream, "events": batch})
                batch, size = [], 0
            batch.append({"timestamp": it.timestamp_ms, "message": it.message})
            size += ev_size
        if batch:
            out.append({"kind": "logs", "agent": agent, "group": group, "stream": stream, "events": batch})
    return out


class Agent:
    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        state = cfg.state_path
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.collectors = registry.build(cfg)
        self.tailer = Tailer(cfg.files, state)
        self.spool = Spool(state / "spool", int(cfg.buffer_max_mb * 1024 * 1024))
        self.sender = Sender(cfg.server)
        self.sent = 0
        self.rejected = 0
        self.cycles = 0
        self.cycle_done = threading.Condition()

    # ---- collecting --------------------------------------------------------------------------
    def collect(self, now: float) -> Collected:
        got = Collected()
        for c in self.collectors:
            try:
                got.extend(c.collect(now))
            except Exception:
                # One broken collector must not stop the others or the log tailing.
                log.exception("collector %s failed", c.name)
        dims = (("AgentName", self.cfg.name),)
        got.points.extend([
            Point("Rexwatch/Agent", "BufferedPayloads", float(len(self.spool)), "Count", dims),
            Point("Rexwatch/Agent", "BufferedBytes", float(self.spool.bytes), "Bytes", dims),
            Point("Rexwatch/Agent", "DroppedPayloads", float(self.spool.dropped), "Count", dims),
            Point("Rexwatch/Agent", "RejectedPayloads", float(self.rejected), "Count", dims),
        ])
        return got

    def buffer_metrics(self, now: float) -> int:
        got = self.collect(now)
        payloads = metric_payloads(self.cfg.name, got.points, now) + log_payloads(self.cfg.name, got.lines)
        for p in payloads:
            self.spool.put(p)
        return len(payloads)

    def buffer_files(self, now: float) -> int:
        lines = self.tailer.poll(now)
        if not lines:
            self.tailer.commit()
            return 0
        payloads = log_payloads(self.cfg.name, lines)
        try:
            for p in payloads:
                self.spool.put(p)
        except OSError:
            self.tailer.rollback()
            raise
        self.tailer.commit()
        return len(payloads)

    # ---- sending -----------------------------------------------------------------------------
    def drain(self, budget: int = 1000) -> Outcome:
        """Send buffered payloads in order until empty, the budget is spent or the server is away."""
        for _ in range(budget):
            item = self.spool.peek()
            if item is None:
                return Outcome.SENT
            path, payload = item
            outcome = self.sender.send(payload)
            if outcome is Outcome.RETRY:
                return outcome
            if outcome is Outcome.REJECTED:
                self.rejected += 1
            else:
                self.sent += 1
            self.spool.done(path)
        return Outcome.SENT

    # ---- the loop ----------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        next_metrics = 0.0
        next_files = 0.0
        backoff = 1.0
        retry_at = 0.0
        warned = ""
        while not stop.is_set():
            now = time.time()
            if now >= next_files:
                self.buffer_files(now)
                next_files = now + self.cfg.files_interval_s
            if now >= next_metrics:
                self.buffer_metrics(now)
                next_metrics = now + self.cfg.interval_s
            if now >= retry_at:
                if self.drain() is Outcome.RETRY:
                    retry_at = now + backoff
                    backoff = min(backoff * 2, 60.0)
                    if self.sender.last_error != warned:
                        warned = self.sender.last_error
                        log.warning("holding %d payloads on disk: %s", len(self.spool), warned)
                else:
                    backoff, retry_at, warned = 1.0, 0.0, ""
            with self.cycle_done:
                self.cycles += 1
                self.cycle_done.notify_all()
            stop.wait(max(0.0, min(next_files, next_metrics) - time.time()))

    def once(self) -> list[dict[str, Any]]:
        now = time.time()
        got = self.collect(now)
        got.lines.extend(self.tailer.poll(now))
        return metric_payloads(self.cfg.name, got.points, now) + log_payloads(self.cfg.name, got.lines)

    def close(self) -> None:
        for c in self.collectors:
            try:
                c.close()
            except Exception:
                log.exception("closing collector %s", c.name)
        self.tailer.close()
        self.sender.close()

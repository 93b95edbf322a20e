"""The alarm evaluator: every tick, all due alarms with one batched statistics query."""

from __future__ import annotations

import logging
import os
import socket
import uuid

from prometheus_client import Counter, Gauge, Histogram

from rexwatch.services.alarms import AlarmsService
from rexwatch.stores.control import leases as lease
from rexwatch.workers.base import Worker

log = logging.getLogger("rexwatch.workers")

LEASE = "alarms-evaluator"


class AlarmMetrics:
    """The evaluator's figures in /metrics (one set per runtime: get it with ``runtime.service``)."""

    def __init__(self, runtime) -> None:
        reg = runtime.metrics.registry
        self.alarms = Gauge("rexwatch_alarms", "Alarms by state.", ["state"], registry=reg)
        self.evaluated = Counter("rexwatch_alarm_evaluations", "Alarm evaluations.", registry=reg)
        self.transitions = Counter("rexwatch_alarm_transitions", "Alarm state transitions.", registry=reg)
        self.notifications = Counter(
            "rexwatch_alarm_notifications", "Alarm notifications queued in the outbox.", registry=reg
        )
        self.errors = Counter(
            "rexwatch_alarm_evaluation_errors",
            "Alarm evaluations that failed (the alarm kept its state), by reason: query (its "
            "statistics could not be read), math (its metric math failed), evaluate (the evaluator "
            "raised).",
            ["reason"],
            registry=reg,
        )
        for reason in ("query", "math", "evaluate"):
            self.errors.labels(reason)
        self.tick_seconds = Histogram(
            "rexwatch_alarm_tick_seconds",
            "Duration of one evaluator tick.",
            registry=reg,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )


class AlarmsWorker(Worker):
    """Evaluates due metric alarms each ``interval`` seconds while holding the evaluator lease.

    Alarms are due once a minute (every period for high-resolution periods);
    a tick reads all their series in one query, then writes every transition,
    its history and its outbox messages in one transaction.
    """

    name = "alarms"
    interval = 10.0

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.last_report = None
        self.last_prune = 0.0

    def tick(self, now: float) -> None:
        if not lease.acquire(self.runtime.control, LEASE, self.holder, ttl=3 * self.interval, now=now):
            return
        svc = self.runtime.service(AlarmsService)
        self.last_report = report = svc.evaluate_due(now)
        m = self.runtime.service(AlarmMetrics)
        m.evaluated.inc(report.evaluated)
        m.transitions.inc(report.transitions)
        m.notifications.inc(report.notifications)
        for reason, n in report.errors.items():
            m.errors.labels(reason).inc(n)
        if report.evaluated:
            m.tick_seconds.observe(report.seconds)
        counts = svc.counts()
        for state in ("OK", "ALARM", "INSUFFICIENT_DATA"):
            m.alarms.labels(state).set(counts.get(state, 0))
        if now - self.last_prune >= 3600:
            self.last_prune = now
            svc.prune_history(now)
        if report.transitions:
            log.info(
                "alarms: %d evaluated, %d transitions, %d notifications in %.3fs",
                report.evaluated,
                report.transitions,
                report.notifications,
                report.seconds,
            )

    def close(self) -> None:
        lease.release(self.runtime.control, LEASE, self.holder)

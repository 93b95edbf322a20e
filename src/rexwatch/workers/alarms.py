"""The alarm evaluator: every tick, all due alarms with one batched statistics query."""

from __future__ import annotations

import logging
import os
import socket
import uuid

from rexwatch.services.alarms import AlarmsService, lease
from rexwatch.workers.base import Worker

log = logging.getLogger("rexwatch.workers")

LEASE = "alarms-evaluator"


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

"""The retention worker: physically removes deleted and expired log events."""

from __future__ import annotations

from rexwatch.workers.base import Worker


class RetentionWorker(Worker):
    name = "retention"
    interval = 600.0  # reads hide expired data at once; disk space comes back within the hour

    def tick(self, now: float) -> None:
        from rexwatch.services.logs import LogsService

        self.runtime.service(LogsService).purge()

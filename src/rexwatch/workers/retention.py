"""The retention worker: physically removes deleted and expired log events.

Only one node at a time does it: a tick first takes the ``retention`` lease in
the control store (``leases`` table), which lapses if its holder dies.
"""

from __future__ import annotations

import os
import socket

from rexwatch.stores.control import leases
from rexwatch.workers.base import Worker


class RetentionWorker(Worker):
    name = "retention"
    interval = 600.0  # reads hide expired data at once; disk space comes back within the hour

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"

    def tick(self, now: float) -> None:
        from rexwatch.services.logs import LogsService

        if not leases.acquire(self.runtime.control, "retention", self.holder, 3 * self.interval):
            return
        self.runtime.service(LogsService).purge()

    def close(self) -> None:
        leases.release(self.runtime.control, "retention", self.holder)

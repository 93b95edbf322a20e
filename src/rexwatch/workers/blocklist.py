"""The blocklist worker: lifts blocks whose TTL has passed, writing an unblock event for each."""

from __future__ import annotations

import logging

from rexwatch.services.security.blocklist import BlocklistService
from rexwatch.workers.base import Worker

log = logging.getLogger("rexwatch.workers")


class BlocklistWorker(Worker):
    name = "blocklist"
    interval = 5.0

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        self.lifted = 0

    def tick(self, now: float) -> None:
        n = self.runtime.service(BlocklistService).expire(now)
        self.lifted += n
        if n:
            log.info("blocklist: %d expired blocks lifted", n)

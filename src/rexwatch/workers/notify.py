"""The notifier: sends outbox deliveries as soon as they are due."""

from __future__ import annotations

import asyncio
import logging

from rexwatch.services.notify import NotifyService
from rexwatch.services.notify.delivery import Dispatcher
from rexwatch.workers.base import Worker

log = logging.getLogger("rexwatch.workers")


class NotifyWorker(Worker):
    """Polls the outbox every ``interval`` seconds, and at once when this process publishes.

    Each round claims a batch of due rows (a lease), sends them with bounded
    concurrency and records the outcomes; a full batch starts the next round
    immediately.
    """

    name = "notify"
    interval = 0.25

    async def run(self, stop: asyncio.Event) -> None:
        dispatcher = Dispatcher(self.runtime)
        svc = self.runtime.service(NotifyService)
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def poke() -> None:
            loop.call_soon_threadsafe(wake.set)

        svc.add_listener(poke)
        metrics = self.runtime.metrics.worker_ticks
        try:
            async with dispatcher.new_client() as http:
                while not stop.is_set():
                    wake.clear()
                    try:
                        with self.runtime.metrics.ticks.round(self.name):
                            n = await dispatcher.run_once(http)
                        metrics.labels(self.name, "ok").inc()
                    except Exception:
                        metrics.labels(self.name, "error").inc()
                        log.exception("notify round failed")
                        n = 0
                    if n:
                        continue
                    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
                    await asyncio.wait(waiters, timeout=self.interval, return_when=asyncio.FIRST_COMPLETED)
                    for w in waiters:
                        w.cancel()
        finally:
            svc.remove_listener(poke)

"""A worker is an asyncio task with a clear tick, bounded work and graceful shutdown."""

from __future__ import annotations

import asyncio
import importlib
import logging
import time

from rexwatch.runtime import Runtime

log = logging.getLogger("rexwatch.workers")


class Worker:
    """Subclasses set ``name`` and ``interval`` and implement ``tick``, or replace
    ``run`` when they need their own loop (the notifier and the prober do).

    ``tick`` runs synchronous service code; it is called in a thread so the
    event loop stays free. Ticks are aligned to multiples of ``interval``
    (Prometheus-style slots) and a tick that overruns skips the missed slots
    and counts them.
    """

    name = "worker"
    interval = 1.0

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.missed = 0

    def tick(self, now: float) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Called once after the loop stops (flush what is pending)."""

    async def run(self, stop: asyncio.Event) -> None:
        metrics = self.runtime.metrics.worker_ticks
        next_at = (time.time() // self.interval + 1) * self.interval
        while not stop.is_set():
            delay = max(0.0, next_at - time.time())
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                break
            except TimeoutError:
                pass
            now = time.time()
            try:
                with self.runtime.metrics.ticks.round(self.name):
                    await asyncio.to_thread(self.tick, now)
                metrics.labels(self.name, "ok").inc()
            except Exception:
                metrics.labels(self.name, "error").inc()
                log.exception("worker %s tick failed", self.name)
            next_at += self.interval
            behind = time.time() - next_at
            if behind > 0:
                skipped = int(behind // self.interval) + 1
                self.missed += skipped
                metrics.labels(self.name, "missed").inc(skipped)
                next_at += skipped * self.interval
        await asyncio.to_thread(self.close)


def selected(spec: str) -> list[str]:
    from rexwatch.workers import WORKERS

    if spec.strip() in ("", "none"):
        return []
    if spec.strip() == "all":
        return list(WORKERS)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKERS]
    if unknown:
        from rexwatch.errors import ConfigError

        raise ConfigError(
            f"workers: unknown worker(s) {', '.join(unknown)}; known: {', '.join(WORKERS) or 'none'}"
        )
    return names


def build(name: str, runtime: Runtime) -> Worker:
    from rexwatch.workers import WORKERS

    module, _, cls = WORKERS[name].rpartition(".")
    return getattr(importlib.import_module(module), cls)(runtime)

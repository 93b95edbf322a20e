"""The scraper: fetches every Prometheus exporter named in the ``scrape`` setting on its interval.

Each target has its own asyncio loop on slots aligned to its interval (offset
by a stable phase, so many targets do not fire at once) and never overlaps
itself. A scrape is one GET through the outbound address policy
(``netpolicy.guarded_client``), bounded three ways: ``timeout_s`` for the
whole fetch and parse, ``scrape_max_body_mb`` for the body (counted after
decompression), ``scrape_sample_limit`` for the samples. Parsing and storing
run in a thread (``intake/prom_scrape.py``); a failed scrape still stores
``up`` = 0, and is counted in ``rexwatch_rejected_total{kind="scrape"}``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from rexwatch import netpolicy
from rexwatch.intake.common import IntakeError, inflate
from rexwatch.intake.cumulative import CumulativeTracker
from rexwatch.intake.prom_scrape import ACCEPT, ScrapeFailed, Target, parse, store
from rexwatch.runtime import Runtime
from rexwatch.services.metrics.service import MetricsService
from rexwatch.workers.base import Worker

log = logging.getLogger("rexwatch.scrape")


def targets_of(settings: Any) -> list[Target]:
    return [Target(url=t.url, job=t.job, interval_s=t.interval_s, timeout_s=t.timeout_s,
                   namespace=t.namespace or settings.scrape_namespace, labels=dict(t.labels))
            for t in settings.scrape]


class ScrapeWorker(Worker):
    name = "scrape"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        s = runtime.settings
        self.targets = targets_of(s)
        self.limit = int(s.scrape_max_body_mb * 1024 * 1024)
        self.sample_limit = s.scrape_sample_limit
        self.metrics = runtime.service(MetricsService)
        # Shared with OTLP: keys start with the namespace, so the two never mix.
        self.tracker = runtime.service(CumulativeTracker)
        # The last outcome per target (job, url): up, error, samples, seconds.
        self.last: dict[tuple[str, str], dict[str, Any]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        if not self.targets:
            await stop.wait()
            return
        policy = netpolicy.policy(self.runtime.settings)
        headers = {"User-Agent": "rexwatch-scraper/1", "Accept": ACCEPT, "Accept-Encoding": "gzip"}
        async with netpolicy.guarded_client(policy, timeout=None, follow_redirects=False, headers=headers,
                                            limits=httpx.Limits(max_keepalive_connections=16)) as client:
            tasks = [asyncio.create_task(self._loop(t, client, stop), name=f"scrape-{t.job}") for t in self.targets]
            try:
                await stop.wait()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, target: Target, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            now = time.time()
            slot = ((now - target.phase) // target.interval_s + 1) * target.interval_s + target.phase
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, slot - now))
                return
            except TimeoutError:
                pass
            with self.runtime.metrics.ticks.round(self.name):
                try:
                    await self.scrape(target, client)
                except Exception:  # a bug in one scrape must not end the target's loop
                    log.exception("scraping %s failed", target.url)

    async def fetch(self, client: httpx.AsyncClient, target: Target) -> tuple[str, str]:
        """(body text, Content-Type) of one GET, or ``ScrapeFailed``."""
        headers = {"X-Prometheus-Scrape-Timeout-Seconds": f"{target.timeout_s:g}"}
        async with client.stream("GET", target.url, headers=headers) as r:
            if r.status_code != 200:
                raise ScrapeFailed("http_status", f"HTTP {r.status_code} from {target.url}")
            declared = r.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.limit:
                raise ScrapeFailed("body_size", f"the answer of {declared} bytes exceeds scrape_max_body_mb")
            chunks, size = [], 0
            async for chunk in r.aiter_raw():
                size += len(chunk)
                if size > self.limit:
                    raise ScrapeFailed("body_size", "the answer exceeds scrape_max_body_mb")
                chunks.append(chunk)
            encoding = r.headers.get("content-encoding", "")
            ctype = r.headers.get("content-type", "")
        try:
            raw = inflate(b"".join(chunks), encoding, self.limit)
        except IntakeError as e:
            raise ScrapeFailed("body_size" if e.status == 413 else "encoding", e.message)
        return raw.decode("utf-8", errors="replace"), ctype

    async def scrape(self, target: Target, client: httpx.AsyncClient) -> dict[str, Any]:
        started = time.time()
        t0 = time.monotonic()
        families = None
        error = ""
        try:
            try:
                async with asyncio.timeout(target.timeout_s):
                    body, ctype = await self.fetch(client, target)
            except TimeoutError:
                raise ScrapeFailed("timeout", f"no complete answer within {target.timeout_s:g} s")
            except netpolicy.Refused as e:
                raise ScrapeFailed("refused", str(e))
            except httpx.HTTPError as e:
                raise ScrapeFailed("connect", f"{type(e).__name__}: {e}"[:300])
            families = await asyncio.to_thread(parse, body, ctype, sample_limit=self.sample_limit,
                                               deadline=t0 + target.timeout_s)
        except ScrapeFailed as e:
            error = e.message
            self.runtime.metrics.rejected.labels("scrape", e.reason).inc()
        duration = time.monotonic() - t0
        outcome = await asyncio.to_thread(store, self.metrics, self.tracker, target, families,
                                          started=started, duration_s=duration)
        key = (target.job, target.url)
        was = self.last.get(key, {}).get("up")
        state = {"up": families is not None, "error": error, "stored": outcome.stored, "refused": outcome.refused,
                 "problem": outcome.problem, "seconds": duration, "at": started}
        self.last[key] = state
        if error and was is not False:
            log.warning("scrape of %s (job %s) failed: %s", target.url, target.job, error)
        elif not error and was is False:
            log.info("scrape of %s (job %s) works again", target.url, target.job)
        return state

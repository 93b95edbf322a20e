"""Runtime and connection-pool metrics, published every few seconds from the sender thread.

Process (dimension ``Service``): ``MemoryRSS`` (Bytes), ``MemoryAlloc`` (Bytes, the
Python heap traced by tracemalloc, only while tracing), ``NumThreads``,
``OpenFileDescriptors``, ``CPUUtilization`` (Percent of one core),
``GCCollections`` and ``GCPauseTime`` (Milliseconds, one value per collection),
``EventLoopLag`` (Milliseconds, when an asyncio loop is watched).

Pools (dimensions ``Service`` and ``Pool``): ``DBOpenConnections``, ``DBInUse`` and
``DBIdle`` (the runbook's names) from SQLAlchemy engines and psycopg pools;
``RedisOpenConnections``, ``RedisInUse`` and ``RedisIdle`` from redis-py pools.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from rexwatch.sdk.metrics import Aggregator


def _rss() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _fds() -> int | None:
    for path in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(path))
        except OSError:
            continue
    return None


class RuntimeMetrics:
    def __init__(self, sdk: Any, interval: float = 60.0) -> None:
        self.sdk = sdk
        self.interval = interval
        self.agg: Aggregator = sdk.sender.aggregator
        self.ns = sdk.config.namespace
        self.dims = (("Service", sdk.config.service),)
        self._last = 0.0
        self._cpu = (time.monotonic(), sum(os.times()[:2]))
        self._gc_counts = [s["collections"] for s in gc.get_stats()]
        self._gc_start = 0.0
        self._loop_tasks: list[asyncio.Task] = []

    def start(self) -> RuntimeMetrics:
        self.sdk.sender.collectors.append(self.collect)
        gc.callbacks.append(self._on_gc)
        return self

    def stop(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        for task in self._loop_tasks:
            task.get_loop().call_soon_threadsafe(task.cancel)
        if self.collect in self.sdk.sender.collectors:
            self.sdk.sender.collectors.remove(self.collect)

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif self._gc_start:
            pause = (time.perf_counter() - self._gc_start) * 1000
            self._gc_start = 0.0
            self.agg.add(self.ns, "GCPauseTime", pause, "Milliseconds", self.dims)

    def _put(self, name: str, value: float | None, unit: str) -> None:
        if value is not None:
            self.agg.add(self.ns, name, float(value), unit, self.dims)

    def collect(self) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        self._put("MemoryRSS", _rss(), "Bytes")
        if tracemalloc.is_tracing():
            self._put("MemoryAlloc", tracemalloc.get_traced_memory()[0], "Bytes")
        self._put("NumThreads", threading.active_count(), "Count")
        self._put("OpenFileDescriptors", _fds(), "Count")
        cpu = sum(os.times()[:2])
        then, cpu_then = self._cpu
        if now > then:
            self._put("CPUUtilization", max(0.0, (cpu - cpu_then) / (now - then) * 100), "Percent")
        self._cpu = (now, cpu)
        counts = [s["collections"] for s in gc.get_stats()]
        self._put("GCCollections", sum(counts) - sum(self._gc_counts), "Count")
        self._gc_counts = counts

    def watch_event_loop(self, loop: asyncio.AbstractEventLoop | None = None, every: float = 0.5) -> None:
        """Measure how late the loop wakes a sleeper: ``EventLoopLag``. Call from a running loop or pass one."""
        loop = loop or asyncio.get_running_loop()

        async def watch() -> None:
            while True:
                start = loop.time()
                await asyncio.sleep(every)
                self._put("EventLoopLag", max(0.0, (loop.time() - start - every) * 1000), "Milliseconds")

        def begin() -> None:
            self._loop_tasks.append(loop.create_task(watch()))
        if _running_loop() is loop:
            begin()
        else:
            loop.call_soon_threadsafe(begin)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


# Pools ------------------------------------------------------------------------------------------------

def _sqlalchemy(engine: Any) -> tuple[int, int]:
    pool = engine.pool
    in_use = int(pool.checkedout())
    idle = int(pool.checkedin()) if hasattr(pool, "checkedin") else 0
    return in_use, idle


def _psycopg(pool: Any) -> tuple[int, int]:
    stats = pool.get_stats()
    size = int(stats.get("pool_size", 0))
    idle = int(stats.get("pool_available", 0))
    return size - idle, idle


def _redis(pool: Any) -> tuple[int, int]:
    pool = getattr(pool, "connection_pool", pool)  # a client or its pool
    return len(pool._in_use_connections), len(pool._available_connections)


def track_pool(pool: Any, name: str = "default", kind: str | None = None) -> Callable[[], None]:
    """Publish a pool's open/in-use/idle connections every flush; returns a function that stops it.

    ``pool``: a SQLAlchemy engine, a psycopg_pool pool, or a redis-py client or pool (``kind`` is
    guessed: "sqlalchemy", "psycopg" or "redis").
    """
    from rexwatch.sdk import core

    sdk = core.get()
    if sdk is None:
        raise RuntimeError("call rexwatch.sdk.configure() first")
    if kind is None:
        kind = ("sqlalchemy" if hasattr(pool, "pool") and hasattr(pool, "dialect")
                else "psycopg" if hasattr(pool, "get_stats")
                else "redis" if hasattr(getattr(pool, "connection_pool", pool), "_in_use_connections")
                else "")
    read = {"sqlalchemy": _sqlalchemy, "psycopg": _psycopg, "redis": _redis}.get(kind)
    if read is None:
        raise ValueError(f"cannot read pool statistics from {type(pool).__name__}: pass kind=")
    prefix = "Redis" if kind == "redis" else "DB"
    agg, ns = sdk.sender.aggregator, sdk.config.namespace
    dims = (("Pool", name), ("Service", sdk.config.service))

    def collect() -> None:
        in_use, idle = read(pool)
        agg.add(ns, f"{prefix}OpenConnections", in_use + idle, "Count", dims)
        agg.add(ns, f"{prefix}InUse", in_use, "Count", dims)
        agg.add(ns, f"{prefix}Idle", idle, "Count", dims)

    sdk.sender.collectors.append(collect)

    def stop() -> None:
        if collect in sdk.sender.collectors:
            sdk.sender.collectors.remove(collect)
    return stop

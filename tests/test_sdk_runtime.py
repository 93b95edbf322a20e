"""Runtime metrics and connection-pool metrics (real PostgreSQL and Redis pools) against a live server."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
import redis
from sqlalchemy import create_engine, text

import rexwatch.sdk as rw
from rexwatch.sdk.runtime import RuntimeMetrics
from sdk_helpers import metric_stats, wait_for

PG = os.environ.get("REXWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _sdk_off():
    yield
    rw.shutdown(5)


@pytest.mark.postgres
def test_pool_metrics_use_the_runbook_names(live):
    rw.configure(logging_level=None, service="pools", endpoint=live.url, namespace="UTM/Pools", flush_interval=60)
    engine = create_engine(PG, pool_size=5)
    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    held = [engine.connect() for _ in range(3)]
    for c in held:
        c.execute(text("SELECT 1"))
    held.pop().close()  # back to the pool: 2 in use, 1 idle
    conn = r.connection_pool.get_connection()
    try:
        rw.track_pool(engine, "main")
        rw.track_pool(r, "cache")
        assert rw.flush(30), rw.stats()
    finally:
        for c in held:
            c.close()
        r.connection_pool.release(conn)
        engine.dispose()
    dims = {"Pool": "main", "Service": "pools"}
    assert wait_for(lambda: metric_stats(live.url, "UTM/Pools", "DBInUse", dims))["Maximum"] == 2
    assert metric_stats(live.url, "UTM/Pools", "DBIdle", dims)["Maximum"] == 1
    assert metric_stats(live.url, "UTM/Pools", "DBOpenConnections", dims)["Maximum"] == 3
    rdims = {"Pool": "cache", "Service": "pools"}
    assert metric_stats(live.url, "UTM/Pools", "RedisInUse", rdims)["Maximum"] == 1
    assert metric_stats(live.url, "UTM/Pools", "RedisOpenConnections", rdims)["Maximum"] == 1
    assert metric_stats(live.url, "UTM/Pools", "RedisIdle", rdims)["Maximum"] == 0
    with pytest.raises(ValueError, match="cannot read pool statistics from object"):
        rw.track_pool(object())


@pytest.mark.postgres
def test_psycopg_pool_metrics_use_the_runbook_names(live):
    from psycopg_pool import ConnectionPool

    rw.configure(logging_level=None, service="pgpool", endpoint=live.url, namespace="UTM/Pools", flush_interval=60)
    with ConnectionPool(PG.replace("+psycopg", ""), min_size=3, max_size=6, open=True) as pool:
        pool.wait(30)  # the three minimum connections are open
        held = [pool.getconn(timeout=30) for _ in range(2)]
        try:
            for conn in held:
                conn.execute("SELECT 1")
            stop = rw.track_pool(pool, "orders")
            assert rw.flush(30), rw.stats()
            stop()
        finally:
            for conn in held:
                pool.putconn(conn)
    dims = {"Pool": "orders", "Service": "pgpool"}
    in_use = wait_for(lambda: metric_stats(live.url, "UTM/Pools", "DBInUse", dims), what="DBInUse")
    assert in_use["Maximum"] == 2 and in_use["SampleCount"] == 1
    assert metric_stats(live.url, "UTM/Pools", "DBIdle", dims)["Maximum"] == 1
    assert metric_stats(live.url, "UTM/Pools", "DBOpenConnections", dims)["Maximum"] == 3


def test_runtime_metrics_and_event_loop_lag(live):
    sdk = rw.configure(logging_level=None, service="rt", endpoint=live.url, namespace="UTM/Runtime",
                       flush_interval=60, runtime_metrics=0.001)
    runtime = next(x for x in sdk.extras if isinstance(x, RuntimeMetrics))

    async def main() -> None:
        runtime.watch_event_loop(every=0.05)
        await asyncio.sleep(0)  # let the watcher start its first sleep
        time.sleep(0.3)  # a blocking call on the loop: the lag the metric must show
        await asyncio.sleep(0.2)
    asyncio.run(main())
    assert rw.flush(30), rw.stats()
    dims = {"Service": "rt"}
    rss = wait_for(lambda: metric_stats(live.url, "UTM/Runtime", "MemoryRSS", dims))
    assert rss["Maximum"] > 10_000_000
    assert metric_stats(live.url, "UTM/Runtime", "NumThreads", dims)["Maximum"] >= 2
    assert metric_stats(live.url, "UTM/Runtime", "OpenFileDescriptors", dims)["Maximum"] > 3
    assert metric_stats(live.url, "UTM/Runtime", "EventLoopLag", dims)["Maximum"] >= 200
    assert "SampleCount" in metric_stats(live.url, "UTM/Runtime", "CPUUtilization", dims)

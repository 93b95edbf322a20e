"""Prober figures: N HTTP monitors at a fixed interval against local servers, from one process.

A small asyncio HTTP/1.1 server runs in a subprocess (so its CPU is not counted) on a few
loopback ports; the real ``ProbeWorker`` runs in this process with the embedded stores and
checks every monitor on its schedule, storing every result. Reported per run: checks done,
scheduling lateness (p50/p99/max, from the results stored in ClickHouse), checks skipped
because the previous one was still running, and this process's CPU (prober + stores) in cores.

Usage: python bench/bench_probes.py [--counts 1000,5000] [--interval 30] [--duration 75]
Every run is bounded by --duration; traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

SERVER = r"""
import asyncio, sys
BODY = b'{"status": "healthy", "database": "up", "redis": "up"}'
RESP = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
async def handle(reader, writer):
    try:
        while True:
            data = await reader.readuntil(b"\r\n\r\n")
            if not data:
                break
            writer.write(RESP)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()
async def main():
    servers = [await asyncio.start_server(handle, "127.0.0.1", int(p), backlog=4096) for p in sys.argv[1:]]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))
asyncio.run(main())
"""


def machine() -> str:
    return (f"{platform.machine()}, {psutil.cpu_count()} cores, {psutil.virtual_memory().total // 2**30} GiB, "
            f"Python {platform.python_version()}")


def run_one(count: int, interval: float, duration: float, ports: list[int], concurrency: int) -> dict:
    from rexwatch.services.monitors.service import normalise
    from rexwatch.stores.control.monitors_repo import MonitorRepo
    from rexwatch.stores.telemetry.chdb import engine_for
    from rexwatch.stores.telemetry.probes import ProbeResults
    from rexwatch.testing import make_runtime
    from rexwatch.workers.probes import ProbeWorker

    tmp = Path(tempfile.mkdtemp(prefix="rxw-bench-probes-"))
    engine = engine_for(str(Path(tempfile.gettempdir()) / "rxw-bench-probes-chdb"))
    rt = make_runtime(tmp / "data", engine, workers="none", probe_concurrency=concurrency)
    repo = MonitorRepo(rt.control)
    for i in range(count):
        port = ports[i % len(ports)]
        values = normalise({"name": f"m{i}", "url": f"http://127.0.0.1:{port}/health/{i}",
                            "interval": interval, "timeout": min(5.0, interval * 0.5)})
        repo.insert_monitor(values)

    worker = ProbeWorker(rt)
    loop = asyncio.new_event_loop()
    stop_holder: dict = {}

    def main() -> None:
        asyncio.set_event_loop(loop)

        async def go() -> None:
            stop_holder["stop"] = asyncio.Event()
            await worker.run(stop_holder["stop"])

        loop.run_until_complete(go())

    thread = threading.Thread(target=main, daemon=True)
    proc = psutil.Process()
    started = time.time()
    thread.start()
    # Skip the first interval (start-up spreads first checks over it), then measure.
    warm = min(interval, duration / 3)
    time.sleep(warm)
    cpu0 = proc.cpu_times()
    t0 = time.time()
    checks0 = worker.checks
    time.sleep(duration - warm)
    cpu1 = proc.cpu_times()
    t1 = time.time()
    checks1 = worker.checks
    loop.call_soon_threadsafe(stop_holder["stop"].set)
    thread.join(timeout=30)
    print("  io seconds:", {k: round(v, 2) for k, v in worker.io_seconds.items()}, file=sys.stderr)
    stats = ProbeResults(rt.telemetry).lateness(t0)
    ups = rt.telemetry.query_rows(
        "SELECT countIf(ok = 1), count() FROM {db:Identifier}.probe_results WHERE ts >= fromUnixTimestamp64Milli({s:Int64})",
        {"s": int(t0 * 1000)})[0]
    reasons = rt.telemetry.query_rows(
        "SELECT reason, any(error), count() FROM {db:Identifier}.probe_results WHERE ok = 0 GROUP BY reason ORDER BY 3 DESC")
    if reasons:
        print("  failures:", reasons[:5], file=sys.stderr)
        timeline = rt.telemetry.query_rows(
            "SELECT toStartOfInterval(ts, INTERVAL 5 SECOND) AS t, count(), countIf(ok = 1), "
            "round(quantile(0.99)(lateness_ms)) FROM {db:Identifier}.probe_results GROUP BY t ORDER BY t")
        print("  timeline (5 s, checks, ok, p99 late ms):", [r[1:] for r in timeline], file=sys.stderr)
    cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / (t1 - t0)
    expected = count * (t1 - t0) / interval
    rt.close(close_stores=False)
    rt.telemetry.drop_database()
    return {"count": count, "interval": interval, "window_s": t1 - t0, "checks": checks1 - checks0,
            "expected": expected, "ok": ups[0], "stored": ups[1], "p50_ms": stats["p50_ms"],
            "p99_ms": stats["p99_ms"], "max_ms": stats["max_ms"], "skipped": worker.skipped,
            "cpu_cores": cpu, "wall_s": time.time() - started}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", default="1000,5000")
    ap.add_argument("--interval", type=float, default=30.0)
    ap.add_argument("--duration", type=float, default=75.0)
    ap.add_argument("--ports", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=500)
    args = ap.parse_args()

    from rexwatch.testing import free_port

    ports = [free_port() for _ in range(args.ports)]
    server = subprocess.Popen([sys.executable, "-c", SERVER, *map(str, ports)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        print(f"# {dt.date.today()} {machine()}")
        print("| monitors | interval | checks in window (expected) | ok | p50 late | p99 late | max late | skipped | CPU (cores) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for count in [int(c) for c in args.counts.split(",")]:
            r = run_one(count, args.interval, args.duration, ports, args.concurrency)
            print(f"| {r['count']:,} | {r['interval']:g} s | {r['checks']:,} ({r['expected']:,.0f}) | "
                  f"{r['ok'] / max(1, r['stored']):.1%} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | "
                  f"{r['max_ms']:.0f} ms | {r['skipped']} | {r['cpu_cores']:.2f} |", flush=True)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()

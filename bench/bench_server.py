"""Foundation figures: time to first healthy /health, idle RSS, /health requests per second.

Runs ``rexwatch server`` as a subprocess on a temp data dir and a free port,
then a bounded local load loop (fixed request count and time cap).
Usage: python bench/bench_server.py [--requests 5000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import subprocess
import sys
import tempfile
import time

import httpx
import psutil

from rexwatch.testing import free_port


def machine() -> str:
    return f"{platform.machine()}, {psutil.cpu_count()} cores, {psutil.virtual_memory().total // 2**30} GiB, Python {platform.python_version()}"


async def load(url: str, total: int, concurrency: int, cap_s: float) -> tuple[int, float]:
    done = 0
    deadline = time.monotonic() + cap_s
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:

        async def one(n: int) -> None:
            nonlocal done
            for _ in range(n):
                if time.monotonic() > deadline:
                    return
                r = await client.get(url)
                assert r.status_code == 200
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(total // concurrency) for _ in range(concurrency)))
        return done, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "rexwatch", "server", "--data-dir", d, "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/health"
        try:
            while True:
                try:
                    if httpx.get(url, timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() - started > 60:
                    raise SystemExit("server did not start in 60 s")
                time.sleep(0.01)
            first_ok = time.perf_counter() - started
            time.sleep(2)
            rss = psutil.Process(proc.pid).memory_info().rss / 2**20
            n, secs = asyncio.run(load(url, args.requests, args.concurrency, cap_s=60))
        finally:
            proc.terminate()
            proc.wait(20)
    print(f"date: {dt.date.today()}  machine: {machine()}")
    print(f"start to first 200 /health: {first_ok:.2f} s (goal < 3 s)")
    print(f"idle RSS, empty data dir: {rss:.0f} MiB")
    print(f"/health: {n / secs:.0f} req/s ({n} requests, concurrency {args.concurrency}, client in same machine)")


if __name__ == "__main__":
    main()

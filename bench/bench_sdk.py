"""Per-request cost of the SDK on a minimal FastAPI app, and its memory with the server down.

Overhead: the same async FastAPI route (it logs one line) is called through its ASGI
interface in one process, without the SDK and with it (the ASGI middleware, the root
log handler shipping JSON, request metrics), in interleaved rounds. The SDK sends to
a sink process that answers every request, so the background sender really encodes
and posts batches on the app's interpreter; the sink's own work is not counted.
Throughput is requests per second of the process's CPU time (every thread, the
sender's included), which a loaded machine disturbs less than wall time.

Server down: the instrumented app serves ``--down-requests`` requests as fast as it
can with the exporter pointed at a closed port, or, with ``--down-rate``, that many
requests per second for ``--down-seconds`` (paced in 50 ms steps); RSS is sampled
along the way.

Usage: python bench/bench_sdk.py [--requests 20000] [--rounds 5] [--down-requests 600000]
       [--down-rate 1000 --down-seconds 600] [--append bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import platform
import socket
import statistics
import subprocess
import sys
import time

SINK = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def make_app(instrumented: bool):
    from fastapi import FastAPI

    from rexwatch.sdk.asgi import RexwatchMiddleware

    app = FastAPI()
    log = logging.getLogger("bench.api")

    @app.get("/api/v1/tenants/{tenant_id}")
    async def tenant(tenant_id: str) -> dict:
        log.info("tenant fetched", extra={"tenant_id": tenant_id})
        return {"id": tenant_id}

    if instrumented:
        app.add_middleware(RexwatchMiddleware)
    return app


async def drive(app, n: int, times: list[int]) -> None:
    scope_base = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                  "scheme": "http", "query_string": b"", "root_path": "", "headers": [(b"host", b"bench")],
                  "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        pass

    clock = time.perf_counter_ns
    for i in range(n):
        path = f"/api/v1/tenants/{i % 500}"
        scope = {**scope_base, "path": path, "raw_path": path.encode()}
        t = clock()
        await app(scope, receive, send)
        times.append(clock() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--down-requests", type=int, default=600_000)
    ap.add_argument("--down-rate", type=float, default=0.0, help="requests/s with the server down (0: flat out)")
    ap.add_argument("--down-seconds", type=float, default=600.0)
    ap.add_argument("--append", default=None)
    args = ap.parse_args()

    import rexwatch.sdk as rw

    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)])
    try:
        bare, inst = make_app(False), make_app(True)
        logging.getLogger().setLevel(logging.INFO)  # the bare run logs at INFO too, to no handler
        loop = asyncio.new_event_loop()
        loop.run_until_complete(drive(bare, 2000, []))  # warm up both
        rw.configure(service="bench", endpoint=f"http://127.0.0.1:{port}", flush_interval=1.0, logging_level=None)
        handler = rw.RexwatchHandler()
        loop.run_until_complete(drive(inst, 2000, []))
        t_bare: list[int] = []
        t_sdk: list[int] = []
        wall = {"bare": 0.0, "sdk": 0.0}
        root = logging.getLogger()
        for _ in range(args.rounds):
            for name, app, out in (("bare", bare, t_bare), ("sdk", inst, t_sdk)):
                if name == "sdk":
                    root.addHandler(handler)
                start = time.process_time()  # CPU of every thread: the sender's work counts
                loop.run_until_complete(drive(app, args.requests, out))
                if name == "sdk":
                    rw.flush(30)  # this round's lines leave inside its own measurement
                wall[name] += time.process_time() - start
                if name == "sdk":
                    root.removeHandler(handler)
        rw.flush(30)
        stats = rw.stats()
        rw.shutdown(10)
    finally:
        sink.terminate()
        sink.wait()

    n = args.requests * args.rounds
    p50_bare = statistics.median(t_bare) / 1000
    p50_sdk = statistics.median(t_sdk) / 1000
    p99 = lambda xs: sorted(xs)[int(len(xs) * 0.99)] / 1000  # noqa: E731
    thr_bare, thr_sdk = n / wall["bare"], n / wall["sdk"]

    # Server down: a closed port, a long run, RSS sampled.
    rw.configure(service="bench", endpoint=f"http://127.0.0.1:{free_port()}", flush_interval=1.0,
                 logging_level=None)
    root.addHandler(handler)
    samples = []
    down_start = time.perf_counter()
    if args.down_rate:
        step = 0.05
        per_step = max(1, round(args.down_rate * step))
        served = 0
        next_step = next_sample = down_start
        baseline = 0
        while time.perf_counter() - down_start < args.down_seconds:
            loop.run_until_complete(drive(inst, per_step, []))
            served += per_step
            now = time.perf_counter()
            if now >= next_sample:
                samples.append(rss())
                next_sample += args.down_seconds / 20
                if len(samples) == 3:  # after 10 % of the time
                    baseline = samples[-1]
            next_step += step
            if next_step > now:
                time.sleep(next_step - now)  # pacing the offered load, not waiting for an event
        samples.append(rss())
        baseline = baseline or samples[0]
    else:
        chunk = max(1, args.down_requests // 20)
        served = chunk * 20
        for i in range(20):
            loop.run_until_complete(drive(inst, chunk, []))
            samples.append(rss())
            if i == 1:
                baseline = rss()
    down_wall = time.perf_counter() - down_start
    down_stats = rw.stats()
    rw.shutdown(2)
    root.removeHandler(handler)

    mib = 1024 * 1024
    lines = [
        "\n## SDK overhead (`bench/bench_sdk.py`)\n",
        f"{dt.date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}; {args.rounds} interleaved rounds of {args.requests:,} requests "
        "through the ASGI interface of an async FastAPI route that logs one line\n",
        "| figure | without SDK | with SDK | goal |",
        "|---|---|---|---|",
        f"| p50 per request | {p50_bare:.1f} µs | {p50_sdk:.1f} µs (+{p50_sdk - p50_bare:.1f} µs) | < +50 µs |",
        f"| p99 per request | {p99(t_bare):.1f} µs | {p99(t_sdk):.1f} µs | — |",
        f"| requests per CPU-second (all threads) | {thr_bare:,.0f} | {thr_sdk:,.0f} ({(1 - thr_sdk / thr_bare) * 100:.1f} % fewer) | < 5 % fewer |",
        f"| lines sent / dropped | — | {stats['logs_sent']:,} / {stats['logs_dropped']:,} | — |",
        "",
        f"Server down (closed port): {served:,} requests in {down_wall:.0f} s "
        f"({served / down_wall:,.0f} req/s{f', paced at {args.down_rate:,.0f}' if args.down_rate else ''}); "
        f"RSS after 10 % of them {baseline / mib:.0f} MiB, "
        f"at the end {samples[-1] / mib:.0f} MiB, highest {max(samples) / mib:.0f} MiB; "
        f"lines dropped {down_stats['logs_dropped']:,}, given up {down_stats['logs_failed']:,}, "
        f"send errors {down_stats['send_errors']:,}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.append:
        with open(args.append, "a") as f:
            f.write(text)


if __name__ == "__main__":
    main()

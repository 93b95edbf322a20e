"""Timing goals that tests must not assert (tests wait on events; speed is measured here).

1. Prober scheduling lateness with a few fast monitors: the time between a check's due moment and its
   start. Goal: p99 < 0.2 s at a 0.2 s interval on an idle machine.
2. Time from a target turning unhealthy to its DOWN notification arriving at a webhook, with the
   runbook's thresholds scaled down (interval 0.5 s, unhealthy threshold 3). Goal: within
   threshold x interval + 2 s.

Both run the real ProbeWorker and NotifyWorker in this process on embedded stores; every request goes
to 127.0.0.1. Usage: python bench/bench_latency.py [--duration 15]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil


class Target:
    """A health endpoint that answers 200 or 503, and a webhook that records notifications."""

    def __init__(self) -> None:
        self.healthy = True
        self.notified: list[tuple[float, dict]] = []
        bench = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(200 if bench.healthy else 503, b'{"status": "ok"}')

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    bench.notified.append((time.time(), json.loads(body)))
                except ValueError:
                    pass
                self._answer(200, b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


class Running:
    """A worker in its own event loop thread."""

    def __init__(self, worker) -> None:
        self.worker = worker
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def go() -> None:
            self.stop_event = asyncio.Event()
            await self.worker.run(self.stop_event)

        self.loop.run_until_complete(go())

    def stop(self) -> None:
        while self.stop_event is None:
            time.sleep(0.01)
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=15.0, help="seconds of probing for the lateness figure")
    args = ap.parse_args()

    from rexwatch.services.monitors import MonitorService, TargetGroupService
    from rexwatch.services.notify import NotifyService
    from rexwatch.stores.telemetry.chdb import engine_for
    from rexwatch.testing import make_runtime, wait_until
    from rexwatch.workers.notify import NotifyWorker
    from rexwatch.workers.probes import ProbeWorker

    tmp = Path(tempfile.mkdtemp(prefix="rxw-bench-latency-"))
    engine = engine_for(str(tmp / "chdb"))
    rt = make_runtime(tmp / "data", engine, workers="none")
    target = Target()
    print(f"machine: {platform.machine()}, {psutil.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"Python {platform.python_version()}, {dt.date.today()}")
    try:
        # 1. Lateness.
        monitors = rt.service(MonitorService)
        for i in range(4):
            monitors.create({"name": f"fast-{i}", "type": "http", "url": f"http://127.0.0.1:{target.port}/{i}",
                             "interval": 0.2})
        prober = Running(ProbeWorker(rt))
        time.sleep(args.duration)  # the measured period itself, not a synchronisation
        stats = prober.worker.stats()
        prober.stop()
        verdict = "meets" if stats["p99_s"] < 0.2 else "MISSES"
        print(f"prober lateness, 4 monitors at 0.2 s for {args.duration:g} s: {stats['checks']} checks, "
              f"p50 {stats['p50_s'] * 1000:.1f} ms, p99 {stats['p99_s'] * 1000:.1f} ms, "
              f"max {stats['max_s'] * 1000:.1f} ms, skipped {stats['skipped']} ({verdict} p99 < 200 ms)")
        for m in monitors.list():
            monitors.delete(m["id"])

        # 2. Unhealthy target -> DOWN notification.
        notify = rt.service(NotifyService)
        arn = notify.create_topic("bench-alerts")
        notify.subscribe(arn, "http", f"http://127.0.0.1:{target.port}/hook", {"SkipConfirmation": "true"})
        tgs = rt.service(TargetGroupService)
        g = tgs.create({"name": "bench", "port": target.port, "health_check_path": "/health", "matcher": "200",
                        "health_check_interval": 0.5, "health_check_timeout": 0.3, "healthy_threshold": 2,
                        "unhealthy_threshold": 3, "topics": [arn]})
        tgs.register(g["TargetGroupArn"], [{"Id": "127.0.0.1"}])
        prober, notifier = Running(ProbeWorker(rt)), Running(NotifyWorker(rt))
        try:
            wait_until(lambda: tgs.describe_health(g["TargetGroupArn"])["TargetHealthDescriptions"][0]
                       ["TargetHealth"]["State"] == "healthy", 120, what="the target to be healthy")
            target.healthy = False
            t0 = time.time()
            wait_until(lambda: any(n.get("Type") == "Notification" for _, n in target.notified), 120,
                       what="the DOWN notification")
            took = next(t for t, n in target.notified if n.get("Type") == "Notification") - t0
        finally:
            prober.stop()
            notifier.stop()
        goal = 3 * 0.5 + 2
        print(f"target down -> notification: {took:.2f} s ({'meets' if took <= goal else 'MISSES'} "
              f"{goal:g} s = 3 x 0.5 s + 2 s)")
    finally:
        target.close()
        rt.close(close_stores=False)
        rt.telemetry.drop_database()
        engine.close()


if __name__ == "__main__":
    main()

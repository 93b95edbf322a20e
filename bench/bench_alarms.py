"""Alarm figures: one evaluator tick over 10,000 alarms on 10,000 series, and breach-to-webhook latency.

Runs in-process on a temporary data directory (embedded chdb + SQLite), with
the real metrics store, the real outbox and the real notify dispatcher
posting to a local HTTP receiver. Bounded: fixed counts, no open-ended loops.
Usage: python bench/bench_alarms.py [--alarms 10000] [--latency-alarms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil

from rexwatch.services.alarms import AlarmsService

try:
    from rexwatch.services.alarms import Actions, AlarmDefinition, Dimension
except ImportError:  # the service before typed definitions took PutMetricAlarm's dict (before/after runs)
    AlarmDefinition = None
from rexwatch.services.metrics import MetricDatum, MetricsService
from rexwatch.services.notify import NotifyService
from rexwatch.testing import free_port, make_runtime
from rexwatch.workers.alarms import AlarmsWorker


def machine() -> str:
    return (
        f"{platform.machine()}, {psutil.cpu_count()} cores, {psutil.virtual_memory().total // 2**30} GiB, "
        f"Python {platform.python_version()}"
    )


def put_series(rt, n: int, minute: int, points: int, breach_every: int) -> None:
    metrics = rt.service(MetricsService)
    batch: list[MetricDatum] = []
    for i in range(n):
        hot = i % breach_every == 0
        for k in range(points):
            ts = dt.datetime.fromtimestamp(minute - 60 * (points - k) + 1, dt.UTC)
            batch.append(
                MetricDatum(
                    "CPUUtilization", [("Host", f"h{i:05d}")], ts, 95.0 if hot else 20.0 + k, unit="Percent"
                )
            )
            if len(batch) == 1000:
                metrics.put_metric_data("Bench/Alarms", batch)
                batch = []
    if batch:
        metrics.put_metric_data("Bench/Alarms", batch)


def alarm(i: int, actions: list[str]):
    if AlarmDefinition is not None:
        return AlarmDefinition(
            name=f"cpu-{i:05d}",
            metric_name="CPUUtilization",
            namespace="Bench/Alarms",
            dimensions=(Dimension("Host", f"h{i:05d}"),),
            statistic="Average",
            period=60,
            threshold=80,
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=3,
            actions=Actions(alarm=tuple(actions)),
        )
    return {
        "AlarmName": f"cpu-{i:05d}",
        "MetricName": "CPUUtilization",
        "Namespace": "Bench/Alarms",
        "Dimensions": [{"Name": "Host", "Value": f"h{i:05d}"}],
        "Statistic": "Average",
        "Period": 60,
        "Threshold": 80,
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": 3,
        "AlarmActions": actions,
        "OKActions": [],
    }


def bench_tick(engine, base: Path, n: int) -> dict:
    rt = make_runtime(base / "tick", engine, workers="none")
    svc = rt.service(AlarmsService)
    minute = int(time.time() // 60) * 60
    t0 = time.perf_counter()
    put_series(rt, n, minute, 5, breach_every=10)
    t_data = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(n):
        svc.put_metric_alarm(alarm(i, []))
    t_put = time.perf_counter() - t0
    now = minute + 5.0
    time.sleep(2)  # let the metrics write-ahead log settle so the tick is measured alone
    c0 = time.process_time()
    first = svc.evaluate_due(now)  # every alarm leaves INSUFFICIENT_DATA: n transitions + history
    c1 = time.process_time()
    steady = svc.evaluate_due(now + 60)  # same data, no transitions: the usual tick
    c2 = time.process_time()
    rt.close(close_stores=False)
    return {
        "n": n,
        "data_s": t_data,
        "put_s": t_put,
        "first": first,
        "steady": steady,
        "first_cpu": c1 - c0,
        "steady_cpu": c2 - c1,
    }


class Hook:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.port = free_port()
        hook = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                import json

                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                t = time.perf_counter()
                try:
                    name = json.loads(json.loads(body)["Message"])["AlarmName"]
                    hook.arrivals.setdefault(name, t)
                except (ValueError, KeyError, TypeError):
                    pass
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *a) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def bench_latency(engine, base: Path, n: int) -> dict:
    rt = make_runtime(base / "lat", engine, workers="none")
    hook = Hook()
    notify = rt.service(NotifyService)
    topic = notify.create_topic("utm-alerts")
    notify.subscribe(topic, "http", f"http://127.0.0.1:{hook.port}/hook", {"SkipConfirmation": "true"})
    svc = rt.service(AlarmsService)
    for i in range(n):
        svc.put_metric_alarm(alarm(i, [topic]))
    minute = int(time.time() // 60) * 60
    put_series(rt, n, minute, 3, breach_every=1)  # every alarm breaches

    # The real notify worker (outbox poll every 0.25 s, woken at once by an alarm commit).
    from rexwatch.workers.notify import NotifyWorker

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def notifier() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(NotifyWorker(rt).run(stop))

    th = threading.Thread(target=notifier, daemon=True)
    th.start()
    time.sleep(0.5)
    worker = AlarmsWorker(rt)
    tick_started = time.perf_counter()
    worker.tick(minute + 5.0)
    tick_s = time.perf_counter() - tick_started
    deadline = time.monotonic() + 30
    while len(hook.arrivals) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    loop.call_soon_threadsafe(stop.set)
    th.join(10)
    lat = sorted(t - tick_started for t in hook.arrivals.values())
    hook.server.shutdown()
    rt.close(close_stores=False)
    return {
        "n": n,
        "received": len(lat),
        "tick_s": tick_s,
        "p50": statistics.median(lat) if lat else float("nan"),
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alarms", type=int, default=10_000)
    ap.add_argument("--latency-alarms", type=int, default=100)
    args = ap.parse_args()
    from rexwatch.stores.telemetry.chdb import engine_for

    with tempfile.TemporaryDirectory() as d:
        engine = engine_for(str(Path(d) / "chdb"))
        tick = bench_tick(engine, Path(d), args.alarms)
        lat = bench_latency(engine, Path(d), args.latency_alarms)
        engine.close()
    f, s = tick["first"], tick["steady"]
    print(f"machine: {machine()}  date: {dt.date.today()}")
    print(
        f"setup: {tick['n']} series x 5 points in {tick['data_s']:.1f}s; {tick['n']} PutMetricAlarm in {tick['put_s']:.1f}s"
    )
    print(
        f"tick with {f.transitions} transitions: {f.evaluated} alarms, {f.queries} statistics query, "
        f"{f.seconds:.2f}s wall, {tick['first_cpu']:.2f}s CPU"
    )
    print(
        f"steady tick (no transitions): {s.evaluated} alarms, {s.queries} statistics query, "
        f"{s.seconds:.2f}s wall, {tick['steady_cpu']:.2f}s CPU"
    )
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    print(
        f"breach-to-webhook over {lat['n']} alarms: received {lat['received']}, evaluator tick {lat['tick_s']:.3f}s, "
        f"p50 {lat['p50']:.3f}s, p99 {lat['p99']:.3f}s (from the start of the tick)"
    )


if __name__ == "__main__":
    main()

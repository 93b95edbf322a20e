"""Metrics figures from the issue.

1. PutMetricData through HTTP against ``rexwatch server`` (a subprocess): 4 client threads, 20 items a
   call, botocore-shaped JSON 1.0 requests sent with httpx (clients on the same machine).
2. GetMetricStatistics over 24 h of one point per second (86,400 points), period 60, five statistics
   plus p99 (service call, store in-process).
3. 10,000 series x 60 points: ListMetrics (first page and a filtered one) and one GetMetricData with
   100 MetricStat queries.

Every loop is bounded (fixed counts and a time cap). Usage: python bench/bench_metrics.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import orjson
import psutil
import pyarrow as pa

from benchlib import wait_healthy
from rexwatch.services.logs.model import LogEventBatch
from rexwatch.testing import free_port

NS = "UTM/Application"


def machine() -> str:
    return (
        f"{platform.machine()}, {psutil.cpu_count()} cores, {psutil.virtual_memory().total // 2**30} GiB, "
        f"Python {platform.python_version()}"
    )


def bench_put(seconds: float, threads: int = 4, items: int = 20) -> tuple[float, int]:
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rexwatch",
                "server",
                "--data-dir",
                d,
                "--port",
                str(port),
                "--workers",
                "none",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            wait_healthy(f"http://127.0.0.1:{port}", proc, 60)
            headers = {
                "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData",
                "Content-Type": "application/x-amz-json-1.0",
            }
            done = [0] * threads
            errors = [0] * threads
            deadline = time.monotonic() + seconds

            def worker(k: int) -> None:
                with httpx.Client(timeout=30) as c:
                    n = 0
                    while time.monotonic() < deadline and n < 1_000_000:
                        now = time.time()
                        body = orjson.dumps(
                            {
                                "Namespace": NS,
                                "MetricData": [
                                    {
                                        "MetricName": "APILatency",
                                        "Dimensions": [
                                            {"Name": "Worker", "Value": str(k)},
                                            {"Name": "Path", "Value": f"/p{j}"},
                                        ],
                                        "Value": float(n + j),
                                        "Unit": "Milliseconds",
                                        "Timestamp": now,
                                    }
                                    for j in range(items)
                                ],
                            }
                        )
                        r = c.post(url, content=body, headers=headers)
                        if r.status_code == 200:
                            done[k] += items
                        else:
                            errors[k] += 1
                        n += 1

            started = time.perf_counter()
            ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            elapsed = time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait(30)
    return sum(done) / elapsed, sum(errors)


def _timed(fn, repeat: int = 7) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def bench_queries() -> dict[str, float]:
    from rexwatch.services.metrics import MetricDataQuery, MetricId, MetricsService, MetricStatSpec, StatQuery
    from rexwatch.services.metrics.put import POINTS_SCHEMA
    from rexwatch.stores.telemetry.chdb import engine_for
    from rexwatch.testing import make_runtime

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        engine = engine_for(str(Path(d) / "chdb"))
        rt = make_runtime(Path(d) / "data", engine, workers="none")
        svc = rt.service(MetricsService)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        end = now
        start = now - dt.timedelta(hours=24)

        def table(names, dims, ts, values):
            n = len(values)
            return pa.table(
                {
                    "namespace": pa.array([NS] * n),
                    "metric_name": pa.array(names),
                    "dims": pa.array(dims),
                    "unit": pa.array(["Milliseconds"] * n),
                    "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
                    "resolution": pa.array(np.full(n, 60, np.uint8)),
                    "samples": pa.array(np.ones(n)),
                    "sum": pa.array(values),
                    "min": pa.array(values),
                    "max": pa.array(values),
                    "value": pa.array(values),
                    "weight": pa.array(np.ones(n, np.uint64)),
                },
                schema=POINTS_SCHEMA,
            )

        # 86,400 points: one a second for 24 h, inserted in 10 k-row Arrow batches (the ingest path's format).
        rng = np.random.default_rng(1)
        secs = np.arange(int(start.timestamp()), int(end.timestamp()))
        vals = rng.lognormal(4, 0.5, len(secs))
        t_ins = time.perf_counter()
        for a in range(0, len(secs), 10_000):
            s = secs[a : a + 10_000]
            svc.store.insert(
                table(
                    ["Latency"] * len(s),
                    ['{"Service":"api"}'] * len(s),
                    (s * 1000).astype("datetime64[ms]"),
                    vals[a : a + 10_000],
                )
            )
        out["insert 86,400 points (service, Arrow batches), s"] = time.perf_counter() - t_ins
        metric = MetricId(NS, "Latency", (("Service", "api"),))
        out["GetMetricStatistics 24 h, period 60, 5 stats + p99, ms"] = _timed(
            lambda: svc.get_metric_statistics(
                metric, start, end, 60, ["SampleCount", "Average", "Sum", "Minimum", "Maximum"], ["p99"]
            )
        )
        out["same without p99, ms"] = _timed(
            lambda: svc.get_metric_statistics(metric, start, end, 60,
                                              ["SampleCount", "Average", "Sum", "Minimum", "Maximum"]))
        out["same over the last 3 h (raw points, exact p99), ms"] = _timed(
            lambda: svc.get_metric_statistics(
                metric,
                end - dt.timedelta(hours=3),
                end,
                60,
                ["SampleCount", "Average", "Sum", "Minimum", "Maximum"],
                ["p99"],
            )
        )
        qs = [
            StatQuery(f"q{i}", NS, "Latency", (("Service", "api"),), s, 300)
            for i, s in enumerate(["Average", "Maximum", "p99", "Sum"] * 25)
        ]
        out["get_statistics_batch, 100 queries, 24 h, period 300, ms"] = _timed(
            lambda: svc.get_statistics_batch(qs, start, end)
        )

        # 10,000 series x 60 points (the last hour, one a minute).
        n_series, n_points = 10_000, 60
        minutes = np.arange(int(now.timestamp()) // 60 * 60 - 3600, int(now.timestamp()) // 60 * 60, 60)
        t_ins = time.perf_counter()
        for a in range(0, n_series, 500):
            names, dims, ts = [], [], []
            for sidx in range(a, a + 500):
                names += [f"M{sidx % 50}"] * n_points
                dims += [f'{{"Host":"h{sidx}"}}'] * n_points
                ts.append(minutes * 1000)
            v = rng.random(500 * n_points) * 100
            svc.store.insert(table(names, dims, np.concatenate(ts).astype("datetime64[ms]"), v))
        out["insert 600,000 points of 10,000 series, s"] = time.perf_counter() - t_ins
        out["ListMetrics over 10,000 series, first page (500), ms"] = _timed(lambda: svc.list_metrics(NS))
        out["ListMetrics, metric name + dimension filter, ms"] = _timed(
            lambda: svc.list_metrics(NS, "M7", [("Host", "h7")])
        )

        def walk_all():
            token, n = None, 0
            for _ in range(100):
                infos, token = svc.list_metrics(NS, next_token=token)
                n += len(infos)
                if not token:
                    break
            assert n == n_series + 1, n

        out["ListMetrics, all 20 pages, ms"] = _timed(walk_all, repeat=3)
        queries = [
            MetricDataQuery(
                f"m{i}",
                MetricStatSpec(
                    MetricId(NS, f"M{i % 50}", (("Host", f"h{i}"),)),
                    60,
                    ["Average", "p99", "Sum", "Maximum"][i % 4],
                ),
            )
            for i in range(100)
        ]
        q_end = dt.datetime.fromtimestamp(int(minutes[-1]) + 60, dt.UTC)
        q_start = q_end - dt.timedelta(hours=1)
        res = svc.get_metric_data(queries, q_start, q_end)
        assert len(res.results) == 100 and all(len(r.values) == 60 for r in res.results)
        out["GetMetricData, 100 MetricStat queries x 60 points, ms"] = _timed(
            lambda: svc.get_metric_data(queries, q_start, q_end)
        )
        with_math = [*queries, MetricDataQuery("e", expression="SUM(METRICS()) / 100")]
        out["same + SUM(METRICS()) expression, ms"] = _timed(
            lambda: svc.get_metric_data(with_math, q_start, q_end)
        )

        # Metric filters at ingest: 10,000 JSON events, two filters, through PutLogEvents.
        from rexwatch.services.logs import LogsService
        from rexwatch.services.metrics.filters import MetricFilterService

        logs = rt.service(LogsService)
        logs.create_log_group("/bench/api")
        logs.create_log_stream("/bench/api", "s")
        now_ms = int(time.time() * 1000)
        events = [{"timestamp": now_ms - 10_000 + i, "message": orjson.dumps(
            {"action": "login", "success": i % 3 == 0, "ip_address": f"10.0.{i % 7}.{i % 50}", "duration": i % 900}
        ).decode()} for i in range(10_000)]

        def ingest() -> None:
            logs.put_log_events("/bench/api", "s", LogEventBatch.from_records(events))
            logs.buffer._cond.acquire()
            logs.buffer._cond.release()

        t = time.perf_counter()
        ingest()
        out["PutLogEvents 10,000 events, no metric filter, ms"] = (time.perf_counter() - t) * 1000
        mf = rt.service(MetricFilterService)
        mf.put_metric_filter("/bench/api", "failed", '{ $.action = "login" && $.success IS FALSE }', [
            {"metricName": "FailedLogins", "metricNamespace": "Bench", "metricValue": "1",
             "dimensions": {"IP": "$.ip_address"}}])
        mf.put_metric_filter("/bench/api", "latency", "{ $.duration >= 0 }", [
            {"metricName": "Latency", "metricNamespace": "Bench", "metricValue": "$.duration"}])
        stamp = pa.array([e["timestamp"] for e in events], pa.timestamp("ms", tz="UTC"))
        table = pa.table({"message": [e["message"] for e in events], "ts": stamp,
                          "ingest_ts": pa.array([now_ms] * len(events), pa.timestamp("ms", tz="UTC"))})
        t = time.perf_counter()
        mf.evaluate(logs.group("/bench/api").id, table)
        svc.flush()
        el = time.perf_counter() - t
        out["metric filters: 2 filters over 10,000 events at ingest (match + publish), ms"] = el * 1000
        out["metric filters: events/s per 2 filters"] = 10_000 / el
        rt.close(close_stores=False)
        rt.telemetry.drop_database()
        engine.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--skip-put", action="store_true")
    args = ap.parse_args()
    print(f"date: {dt.date.today()}  machine: {machine()}")
    if not args.skip_put:
        rate, errors = bench_put(args.seconds)
        print(
            f"PutMetricData over HTTP, 4 threads x 20 items/call: {rate:,.0f} datapoints/s ({errors} errors)"
        )
    for k, v in bench_queries().items():
        print(f"{k}: {v:,.2f}" if v < 100 else f"{k}: {v:,.0f}")


if __name__ == "__main__":
    main()

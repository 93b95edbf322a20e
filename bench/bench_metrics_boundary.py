"""PutMetricData ingest and GetMetricData, in-process, for a before/after comparison of a change
to the metrics service. Runs against whichever ``rexwatch`` is importable, so the same script
measures an older checkout (``PYTHONPATH=<checkout>/src``).

1. PutMetricData through the service: 20-item calls (the AWS door's size), datapoints/s until the
   write-ahead log has been flushed into the store.
2. GetMetricData, 100 MetricStat queries x 60 points over one hour (one ClickHouse query).
3. GetMetricData, 20 MetricStat queries at period 60 over 70 days (100,800 periods each) holding
   60 points each: the cost of the range as opposed to the data. Peak Python memory is reported.

Usage: python bench/bench_metrics_boundary.py [--calls 3000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import psutil

from rexwatch.services import metrics as m

MetricDatum = getattr(m, "MetricDatum", None) or m.Datum
try:
    from rexwatch.services.metrics import MetricDataQuery, MetricStatSpec
except ImportError:  # before the types moved into the domain model
    from rexwatch.services.metrics.getdata import MetricDataQuery, MetricStatSpec

NS = "Bench/Metrics"


def _median_ms(fn, repeat: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=3000)
    args = ap.parse_args()
    from rexwatch.stores.telemetry.chdb import engine_for
    from rexwatch.testing import make_runtime

    print(f"date: {dt.date.today()}  machine: {platform.machine()}, {psutil.cpu_count()} cores, "
          f"Python {platform.python_version()}  load: {psutil.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as d:
        engine = engine_for(str(Path(d) / "chdb"))
        rt = make_runtime(Path(d) / "data", engine, workers="none")
        svc = rt.service(m.MetricsService)
        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)

        # 1. ingest: 100 series, 20 items a call, timestamps over the last hour.
        calls = []
        for c in range(args.calls):
            items = []
            for k in range(20):
                n = c * 20 + k
                items.append(MetricDatum(f"M{n % 100}", [("Host", f"h{n % 7}")],
                                         now - dt.timedelta(seconds=n % 3600), float(n % 97)))
            calls.append(items)
        t = time.perf_counter()
        for items in calls:
            svc.put_metric_data(NS, items)
        svc.flush()
        el = time.perf_counter() - t
        print(f"PutMetricData via the service, 20 items/call: {args.calls * 20 / el:,.0f} datapoints/s")

        # 2. 100 MetricStat queries x 60 points over one hour.
        def q(i: int, name: str, period: int = 60) -> MetricDataQuery:
            return MetricDataQuery(f"q{i}", MetricStatSpec(m.MetricId(NS, name, (("Host", f"h{i % 7}"),)),
                                                          period, "Average"))

        hour = [q(i, f"M{i}") for i in range(100)]
        ms = _median_ms(lambda: svc.get_metric_data(hour, now - dt.timedelta(hours=1), now))
        print(f"GetMetricData, 100 MetricStat x 60 points: {ms:.1f} ms")

        # 3. 20 queries over 70 days at period 60: 100,800 periods each, 60 of them with data.
        wide = [q(i, f"M{i}") for i in range(20)]
        start = now - dt.timedelta(minutes=100_800)
        ms = _median_ms(lambda: svc.get_metric_data(wide, start, now), repeat=3)
        tracemalloc.start()
        svc.get_metric_data(wide, start, now)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"GetMetricData, 20 MetricStat over 70 days (100,800 periods each): {ms:.1f} ms, "
              f"peak Python memory {peak / 2**20:.1f} MiB")
        rt.close(close_stores=False)
        rt.telemetry.drop_database()
        engine.close()


if __name__ == "__main__":
    main()

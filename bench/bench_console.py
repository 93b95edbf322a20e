"""Console pages over HTTP against a live in-process server holding a week of metrics: the time to
the whole HTML answer (the page's first useful content: it is server-rendered) and its size.

1. The metrics explorer graphing one series over 7 days of 1-minute datapoints (10,080 points):
   with the automatic period (the server sends at most 600 points) and with period=60 (all 10,080).
2. The explorer's picker with 2,000 series in 20 namespaces (ListMetrics, paged).
3. An alarm's page over 7 days: its metric at 60 s, the threshold, state bands.
4. The monitors list with 200 monitors (one uptime query for all of them).

Usage: python bench/bench_console.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from rexwatch.services.alarms import AlarmsService
from rexwatch.services.alarms.model import AlarmDefinition, Dimension
from rexwatch.services.metrics import MetricsService
from rexwatch.services.metrics.model import MetricDatum
from rexwatch.services.monitors import MonitorService
from rexwatch.web.metrics import explorer_url


def timed(client: httpx.Client, path: str, repeat: int) -> tuple[float, int]:
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), len(r.content)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    from rexwatch.stores.telemetry.chdb import engine_for
    from rexwatch.testing import LiveServer, make_runtime

    print(f"date: {dt.date.today()}  machine: {platform.machine()}, {psutil.cpu_count()} cores, "
          f"Python {platform.python_version()}  load: {psutil.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as d:
        engine = engine_for(str(Path(d) / "chdb"))
        rt = make_runtime(Path(d) / "data", engine, workers="none")
        metrics = rt.service(MetricsService)
        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        week = [now - dt.timedelta(minutes=i) for i in range(1, 7 * 24 * 60 + 1)]
        for i in range(0, len(week), 1000):
            metrics.put_metric_data("UTM/Api", [MetricDatum("Latency", [("Service", "api")], t, 100.0 + (j % 50))
                                                for j, t in enumerate(week[i:i + 1000])])
        for n in range(20):
            metrics.put_metric_data(f"Bench/NS{n:02d}", [
                MetricDatum(f"M{k % 10}", [("Host", f"h{k}")], now - dt.timedelta(minutes=1), 1.0)
                for k in range(100)])
        metrics.flush()
        alarms = rt.service(AlarmsService)
        alarms.put_metric_alarm(AlarmDefinition(
            name="utm-latency", metric_name="Latency", namespace="UTM/Api", statistic="Average", period=60,
            threshold=140, comparison_operator="GreaterThanThreshold", evaluation_periods=3,
            dimensions=(Dimension("Service", "api"),)))
        monitors = rt.service(MonitorService)
        for k in range(200):
            monitors.create({"name": f"site-{k}", "type": "http", "url": f"https://site-{k}.example.invalid/",
                             "paused": True})
        one = explorer_url("UTM/Api", "Latency", [("Service", "api")], since="7d")
        rows = [
            ("explorer, 1 series over 7 d, automatic period", one),
            ("explorer, 1 series over 7 d, period=60 (10,080 points)",
             explorer_url("UTM/Api", "Latency", [("Service", "api")], period=60, since="7d")),
            ("explorer picker, 2,000 series in 20 namespaces", "/metrics/explorer?ns=Bench/NS07&metric=M3"),
            ("alarm page over 7 d (60 s period, threshold, bands)", "/alarms/utm-latency?since=7d"),
            ("monitors list, 200 monitors", "/monitors"),
        ]
        with LiveServer(rt, run_workers=False) as server, httpx.Client(base_url=server.url, timeout=60) as client:
            print("| page | median time | HTML size |")
            print("|---|---|---|")
            for label, path in rows:
                ms, size = timed(client, path, args.repeat)
                print(f"| {label} | {ms:,.0f} ms | {size / 1024:,.0f} KiB |")
        rt.close(close_stores=False)


if __name__ == "__main__":
    main()

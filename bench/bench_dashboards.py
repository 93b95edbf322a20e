"""Cost of dashboard rendering: a metric widget's data (the console's per-widget endpoint does this)
and GetMetricWidgetImage as PNG and SVG, for a small widget and a wide one.

Runs in one process on a temporary data directory: 10 series (ServiceName dimension) of one value
per minute over 24 hours (14,400 datapoints), then times, as medians of --repeat runs:

- data, 1 series, 3 h at 60 s (180 points)       - data, SEARCH over 10 series, 24 h (auto period)
- PNG / SVG of the 1-series widget (600 x 400)    - PNG / SVG of the 10-series widget (1200 x 600)

Usage: python bench/bench_dashboards.py [--repeat 9]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    from rexwatch.services.dashboards.render import render_widget
    from rexwatch.services.dashboards.widgets import metric_data
    from rexwatch.services.metrics import MetricsService
    from rexwatch.services.metrics.model import MetricDatum
    from rexwatch.stores.telemetry.chdb import engine_for
    from rexwatch.testing import make_runtime

    with tempfile.TemporaryDirectory() as d:
        rt = make_runtime(Path(d) / "data", engine_for(str(Path(d) / "chdb")), workers="none")
        svc = rt.service(MetricsService)
        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        for s in range(10):
            data = [MetricDatum("Latency", [("ServiceName", f"svc-{s}")], now - dt.timedelta(minutes=m),
                                100.0 + s * 10 + (m % 17)) for m in range(1, 1441)]
            for i in range(0, len(data), 1000):
                svc.put_metric_data("Bench/App", data[i:i + 1000])
        svc.flush()
        one = {"metrics": [["Bench/App", "Latency", "ServiceName", "svc-0"]], "period": 60, "start": "-PT3H"}
        many = {"metrics": [[{"expression": "SEARCH('{Bench/App,ServiceName} MetricName=\"Latency\"', 'Average', 60)",
                              "id": "s"}]], "start": "-PT24H", "width": 1200, "height": 600}
        start3, start24 = now - dt.timedelta(hours=3), now - dt.timedelta(hours=24)
        cases = {
            "data: 1 series, 3 h at 60 s": lambda: metric_data(rt, one, start3, now),
            "data: SEARCH, 10 series, 24 h": lambda: metric_data(rt, many, start24, now),
            "PNG 600x400, 1 series": lambda: render_widget(rt, json.dumps(one), "png"),
            "SVG 600x400, 1 series": lambda: render_widget(rt, json.dumps(one), "image/svg+xml"),
            "PNG 1200x600, 10 series x 24 h": lambda: render_widget(rt, json.dumps(many), "png"),
            "SVG 1200x600, 10 series x 24 h": lambda: render_widget(rt, json.dumps(many), "image/svg+xml"),
        }
        print(f"{dt.date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
              f"load {os.getloadavg()[0]:.1f}")
        print("| case | median wall | median CPU | output |")
        print("|---|---|---|---|")
        for name, fn in cases.items():
            out = fn()  # warm: models, fonts, caches
            walls, cpus = [], []
            for _ in range(args.repeat):
                w0, c0 = time.perf_counter(), time.process_time()
                out = fn()
                walls.append(time.perf_counter() - w0)
                cpus.append(time.process_time() - c0)
            size = f"{len(out[0]):,} bytes" if isinstance(out, tuple) else \
                f"{sum(len(s['values']) for s in out['series']):,} points"
            print(f"| {name} | {statistics.median(walls) * 1000:.1f} ms | {statistics.median(cpus) * 1000:.1f} ms "
                  f"| {size} |")
        rt.close()


if __name__ == "__main__":
    main()

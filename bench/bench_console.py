"""Console pages over HTTP against a live in-process server holding a week of metrics: the time to
the whole HTML answer (the page's first useful content: it is server-rendered) and its size.

1. The metrics explorer graphing one series over 7 days of 1-minute datapoints (10,080 points):
   with the automatic period (the server sends at most 600 points) and with period=60 (all 10,080).
2. The explorer's picker with 2,000 series in 20 namespaces (ListMetrics, paged).
3. An alarm's page over 7 days: its metric at 60 s, the threshold, state bands.
4. The monitors list with 200 monitors (one uptime query for all of them).

With ``--part logs``: every console page on the embedded store holding a million log events (one
group, 10 streams, 24 hours), timed to the whole HTML answer and, in headless Chromium (Debian's
chromium), to the first contentful paint; the runbook's Insights queries from the page's start to
their results; and the Insights chart of a week of bin(1m) drawn at the chart's width.

With ``--part speed``: the console's speed goals alone, runnable against older code too (put its
``src`` first on PYTHONPATH) so one session compares before and after: the log group page over a
million events (HTML, server CPU per page, first paint), the explorer and alarm page over a week of
minutes at a 600 px chart (points sent, the spike kept), and an Insights query's live progress and
what Cancel frees.

Usage: python bench/bench_console.py [--repeat 7] [--part metrics|logs|speed|all] [--events 1000000]
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


def fill_logs(rt, group: str, events: int) -> float:
    """``events`` JSON and ERROR lines over the last 24 hours in 10 streams; returns seconds taken."""
    from rexwatch.services.logs import LogsService
    from rexwatch.services.logs.model import LogEventBatch

    logs = rt.service(LogsService)
    logs.create_log_group(group)
    streams = [f"web-{k}" for k in range(10)]
    for st in streams:
        logs.create_log_stream(group, st)
    now_ms = int(time.time() * 1000)
    start = now_ms - 24 * 3_600_000
    step = 24 * 3_600_000 / events
    paths = ["/api/tenants", "/api/users", "/api/login", "/api/reports"]
    t0 = time.perf_counter()
    per_stream = events // len(streams)
    batch_size = 5_000  # under the 1 MiB batch limit with these messages
    for k, st in enumerate(streams):
        for b in range(0, per_stream, batch_size):
            batch = []
            for i in range(b, min(b + batch_size, per_stream)):
                n = i * len(streams) + k
                ts = int(start + n * step)
                if n % 100 == 0:
                    batch.append((ts, f"ERROR {paths[n % 4]} failed: upstream timeout (request {n})"))
                elif n % 250 == 1:
                    batch.append((ts, f'{{"action":"login","success":false,"user_id":"u{n % 7}",'
                                      f'"ip_address":"10.0.0.{n % 5}"}}'))
                else:
                    batch.append((ts, f'{{"method":"GET","path":"{paths[n % 4]}","status":{500 if n % 97 == 0 else 200},'
                                      f'"duration":{(n * 37) % 3000},"user_id":"u{n % 50}"}}'))
            logs.put_log_events(group, st, LogEventBatch.of(batch))
    return time.perf_counter() - t0


def first_paint(page, url: str, repeat: int) -> float:
    """Median ms from navigation start to the first contentful paint, over ``repeat`` loads. Each
    load's own later requests (htmx fragments) finish before the next load starts, so one load's
    histogram never runs beside the next one's page."""
    out = []
    for _ in range(repeat):
        page.goto(url)
        page.wait_for_load_state("load")
        fcp = page.evaluate("""() => new Promise(resolve => {
            const e = performance.getEntriesByName('first-contentful-paint')[0];
            if (e) return resolve(e.startTime);
            new PerformanceObserver(l => resolve(l.getEntries()[0].startTime)).observe({type: 'paint', buffered: true});
        })""")
        out.append(fcp)
        page.wait_for_load_state("networkidle")
    return statistics.median(out)


def server_timed(client: httpx.Client, path: str, repeat: int) -> tuple[float, float, int]:
    """(median ms to the whole answer, CPU ms of this process per request, bytes): the server runs
    in this process, so its CPU time (threads and the embedded store included) is the process's."""
    me = psutil.Process()
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    times = []
    cpu0 = me.cpu_times()
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
    cpu1 = me.cpu_times()
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) * 1000 / repeat
    return statistics.median(times), cpu, len(r.content)


def speed_part(args) -> None:
    """The console's speed goals, in a form that runs against older code too (for before/after in
    one session): the log group page over the big group (HTML, server CPU, first paint), charts of
    a week of minutes at a 600 px chart, and an Insights query's progress and cancel."""
    import json
    import shutil
    from urllib.parse import quote

    from rexwatch.services.insights.service import QueriesService
    from rexwatch.stores.telemetry.chdb import engine_for
    from rexwatch.testing import LiveServer, make_runtime

    group = "/aws/ecs/bench-api"
    with tempfile.TemporaryDirectory() as d:
        rt = make_runtime(Path(d) / "data", engine_for(str(Path(d) / "chdb")), workers="none")
        took = fill_logs(rt, group, args.events)
        print(f"ingested {args.events:,} events in {took:.1f} s ({args.events / took:,.0f} events/s)")
        metrics = rt.service(MetricsService)
        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        week = [now - dt.timedelta(minutes=i) for i in range(1, 7 * 24 * 60 + 1)]
        for i in range(0, len(week), 1000):
            metrics.put_metric_data("UTM/Api", [MetricDatum("Latency", [("Service", "api")], t,
                                                            900.0 if i + j == 5000 else 100.0 + (i + j) % 50)
                                                for j, t in enumerate(week[i:i + 1000])])
        metrics.flush()
        rt.service(AlarmsService).put_metric_alarm(AlarmDefinition(
            name="utm-latency", metric_name="Latency", namespace="UTM/Api", statistic="Average", period=60,
            threshold=500, comparison_operator="GreaterThanThreshold", evaluation_periods=1,
            dimensions=(Dimension("Service", "api"),)))
        g = quote(group)
        pages = [("last 1 h", f"/logs/group?name={g}&since=1h"), ("last 24 h", f"/logs/group?name={g}&since=1d"),
                 ("24 h, pattern `{ $.status = 500 }`",
                  f"/logs/group?name={g}&since=1d&pattern={quote('{ $.status = 500 }')}")]
        chromium = shutil.which("chromium")
        with LiveServer(rt, run_workers=False) as server, httpx.Client(base_url=server.url, timeout=120) as client:
            page = None
            if chromium:
                from playwright.sync_api import sync_playwright

                pw = sync_playwright().start()
                browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page()
            print(f"load average {psutil.getloadavg()[0]:.1f}")
            print(f"| log group of {args.events:,} events | HTML answer | server CPU per page | first contentful paint | HTML size |")
            print("|---|---|---|---|---|")
            for label, path in pages:
                ms, cpu, size = server_timed(client, path, args.repeat)
                fcp = first_paint(page, server.url + path, args.repeat) if page else None
                print(f"| {label} | {ms:,.0f} ms | {cpu:,.0f} ms | {'—' if fcp is None else f'{fcp:,.0f} ms'} | "
                      f"{size / 1024:,.0f} KiB |")
            print("\n| a week of 1-minute datapoints (10,080), chart 600 px wide | points sent | HTML answer | server CPU | HTML size |")
            print("|---|---|---|---|---|")
            explorer = explorer_url("UTM/Api", "Latency", [("Service", "api")], period=60, since="7d") + "&w=600"
            for label, path, block in (("metrics explorer", explorer, "metric-chart-data"),
                                       ("alarm page", "/alarms/utm-latency?since=7d&w=600", "alarm-chart-data")):
                ms, cpu, size = server_timed(client, path, args.repeat)
                html = client.get(path).text
                start = html.index(f'id="{block}">') + len(f'id="{block}">')
                chart = json.loads(html[start:html.index("</script>", start)])
                spike = max(v for v in chart["series"][0]["values"] if v is not None)
                print(f"| {label} | {len(chart['x']):,} (spike {spike:g} kept) | {ms:,.0f} ms | {cpu:,.0f} ms | "
                      f"{size / 1024:,.0f} KiB |")
            if page:
                browser.close()
                pw.stop()
        # Insights: what the page sees while a long query runs, and what Cancel frees.
        svc = rt.service(QueriesService)
        end = int(time.time())
        # About 8 s over the million events on this machine: long enough to cancel in the middle.
        heavy = ("fields concat(@message, @message, @message) as m | parse m /(?<a>.*)(?<b>u.*)(?<c>p.*)(?<d>s.*)/ "
                 "| stats count() by a, b, c, d")
        qid = svc.start_query(heavy, group_names=[group], start_s=end - 86400, end_s=end)
        seen, t0 = [], time.perf_counter()
        while True:
            r = svc.get_query_results(qid)
            if r.status == "Running":
                seen.append(r.statistics.records_scanned)
            if r.status in ("Complete", "Failed", "Cancelled", "Timeout"):
                break
            time.sleep(0.02)
        full = (time.perf_counter() - t0) * 1000
        print(f"\ninsights query over {args.events:,} events: {full:,.0f} ms; while running (polled every 20 ms) "
              f"records scanned took {len(set(seen))} distinct values: {sorted(set(int(v) for v in seen))[:6]}…")
        me = psutil.Process()
        freed, cpus, ran = [], [], []
        for _ in range(3):
            qid = svc.start_query(heavy, group_names=[group], start_s=end - 86400, end_s=end)
            deadline = time.monotonic() + 60
            # Records show once the main statement runs (the older code counted them in a statement
            # before it); half a second later the query is in the middle of its statement.
            while svc.get_query_results(qid).statistics.records_scanned == 0 and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(0.5)
            cpu0, t0 = me.cpu_times(), time.perf_counter()
            svc.stop_query(qid)
            nxt = svc.start_query("stats count()", group_names=[group], start_s=end - 86400, end_s=end)
            while svc.get_query_results(nxt).status == "Scheduled" and time.monotonic() < deadline:
                time.sleep(0.002)  # the one query worker is still busy with the cancelled query
            freed.append((time.perf_counter() - t0) * 1000)
            cpu1 = me.cpu_times()
            cpus.append((cpu1.user + cpu1.system - cpu0.user - cpu0.system) * 1000)
            svc.wait(nxt, 120)
            ran.append(svc._runs[qid].duration_ms)
        print(f"cancel 0.5 s into its statement (median of 3): the worker took the next query {statistics.median(freed):,.0f} ms "
              f"after StopQuery, the process spent {statistics.median(cpus):,.0f} ms CPU meanwhile, and the "
              f"cancelled query ran {statistics.median(ran):,.0f} ms in all (a whole run: {full:,.0f} ms)")
        rt.close(close_stores=False)


def logs_part(args) -> None:
    import shutil
    from urllib.parse import quote

    from rexwatch import sample_data
    from rexwatch.stores.telemetry.chdb import engine_for
    from rexwatch.testing import LiveServer, make_runtime
    from rexwatch.web.insights import SAMPLES, chart_of

    group = "/aws/ecs/bench-api"
    with tempfile.TemporaryDirectory() as d:
        engine = engine_for(str(Path(d) / "chdb"))
        rt = make_runtime(Path(d) / "data", engine, workers="none")
        took = fill_logs(rt, group, args.events)
        print(f"ingested {args.events:,} events in {took:.1f} s ({args.events / took:,.0f} events/s)")
        sample = sample_data.seed(rt)  # the other pages' content: alarms, monitors, a dashboard, ...
        g = quote(group)
        rows = [(name, path) for name, path in sample_data.pages(sample) if name not in ("api-docs",)]
        rows += [
            (f"log group of {args.events:,} events, last 1 h", f"/logs/group?name={g}&since=1h"),
            (f"log group of {args.events:,} events, last 24 h (histogram of all)", f"/logs/group?name={g}&since=1d"),
            ("log group, 24 h, pattern { $.status = 500 }",
             f"/logs/group?name={g}&since=1d&pattern={quote('{ $.status = 500 }')}"),
            ("insights editor, that group chosen", f"/insights?group={g}&since=1d"),
            ("insights completions (fields of the group)", f"/insights/complete?group={g}&since=1h"),
        ]
        chromium = shutil.which("chromium")
        with LiveServer(rt, run_workers=False) as server, httpx.Client(base_url=server.url, timeout=120) as client:
            pw = browser = page = None
            if chromium:
                from playwright.sync_api import sync_playwright

                pw = sync_playwright().start()
                browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page()
            print("| page | HTML answer (median) | first contentful paint (median) | HTML size |")
            print("|---|---|---|---|")
            for label, path in rows:
                ms, size = timed(client, path, args.repeat)
                fcp = first_paint(page, server.url + path, args.repeat) if page and "complete" not in path else None
                print(f"| {label} | {ms:,.0f} ms | {'—' if fcp is None else f'{fcp:,.0f} ms'} | {size / 1024:,.0f} KiB |")
            print()
            print(f"| Insights query over {args.events:,} events (24 h), from the page's start | to results (median) | rows |")
            print("|---|---|---|")
            for label, q in SAMPLES:
                walls, nrows = [], 0
                for _ in range(3):
                    t = time.perf_counter()
                    r = client.get("/insights", params={"run": "1", "group": group, "since": "1d", "q": q})
                    qid = r.text.split("/insights/results?id=", 1)[1].split("&", 1)[0]
                    deadline = time.monotonic() + 120
                    while time.monotonic() < deadline:  # as the page polls
                        frag = client.get("/insights/results", params={"id": qid}).text
                        if 'data-status="Complete"' in frag or 'data-status="Failed"' in frag:
                            break
                        time.sleep(0.05)
                    walls.append((time.perf_counter() - t) * 1000)
                    nrows = frag.count("<tr>") - 1
                print(f"| {label} | {statistics.median(walls):,.0f} ms | {nrows} |")
            if browser:
                browser.close()
                pw.stop()
        # The chart of a week of bin(1m): what reaches the browser.
        rows_week = [(time.strftime("%Y-%m-%d %H:%M:%S.000", time.gmtime(1_700_000_000 + 60 * i)), str(i % 7))
                     for i in range(10_080)]
        t = time.perf_counter()
        chart = chart_of(["bin(1m)", "count()"], rows_week, 600)
        ms = (time.perf_counter() - t) * 1000
        print(f"\ninsights chart of 10,080 bins at 600 px: {len(chart['x'])} points drawn ({chart['columns']} "
              f"columns), {ms:.1f} ms to build")
        rt.close(close_stores=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--part", choices=("metrics", "logs", "speed", "all"), default="metrics")
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    print(f"date: {dt.date.today()}  machine: {platform.machine()}, {psutil.cpu_count()} cores, "
          f"Python {platform.python_version()}  load: {psutil.getloadavg()[0]:.1f}")
    if args.part in ("logs", "all"):
        logs_part(args)
    if args.part in ("speed", "all"):
        speed_part(args)
    if args.part in ("metrics", "all"):
        metrics_part(args)


def metrics_part(args) -> None:
    from rexwatch.stores.telemetry.chdb import engine_for
    from rexwatch.testing import LiveServer, make_runtime

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

"""Soak: sustained ingest, queries and alarm evaluation against a real server, with hostile requests mixed in.

Starts ``rexwatch server`` (all workers, embedded stores, a temporary data dir, a free loopback port) and
for ``--duration`` seconds (default 600, at most 3600) runs, paced:

- PutLogEvents (``--log-rate`` events/s in batches of 100) and PutMetricData (``--metric-rate`` datapoints/s
  in batches of 20), counting what was acknowledged;
- queries: FilterLogEvents, GetMetricStatistics, an Insights query, DescribeAlarms;
- alarm evaluation: five alarms on the ingested metric, evaluated by the server's own evaluator;
- every few seconds one hostile request: an oversized body, a bad signature, a pathological filter
  pattern, a GetMetricData range of years at a 1-second period, a NaN timestamp.

Reported: requests and 5xx per kind, p50/p99 latency per operation, server RSS over time, and the
acknowledged-data check (every acknowledged event and datapoint is readable at the end).
Everything talks to 127.0.0.1 only.

Usage: python bench/bench_soak.py [--duration 600] [--log-rate 2000] [--metric-rate 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import boto3
import httpx
import psutil
from botocore.config import Config
from botocore.exceptions import ClientError

from benchlib import wait_healthy

GROUP = "/soak/app"
NAMESPACE = "Soak/App"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.errors: list[str] = []

    def record(self, op: str, seconds: float, status: int) -> None:
        with self.lock:
            self.latency[op].append(seconds)
            self.status[op][status] += 1

    def five_xx(self) -> int:
        return sum(n for codes in self.status.values() for c, n in codes.items() if c >= 500)


def timed(tally: Tally, op: str, fn, *args, **kw):
    t0 = time.perf_counter()
    try:
        out = fn(*args, **kw)
        status = 200
        if isinstance(out, httpx.Response):
            status = out.status_code
        tally.record(op, time.perf_counter() - t0, status)
        return out
    except ClientError as e:
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        tally.record(op, time.perf_counter() - t0, status)
        if status >= 500:
            tally.errors.append(f"{op}: {e}")
        return None
    except Exception as e:  # connection errors count as failures of the server
        tally.record(op, time.perf_counter() - t0, 599)
        tally.errors.append(f"{op}: {type(e).__name__}: {e}")
        return None


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * q))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--log-rate", type=float, default=2000.0, help="log events per second")
    ap.add_argument("--metric-rate", type=float, default=200.0, help="datapoints per second")
    args = ap.parse_args()
    duration = max(10.0, min(args.duration, 3600.0))

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = Path(tempfile.mkdtemp(prefix="rxw-soak-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REXWATCH_")}
    env.update({"REXWATCH_LOG_LEVEL": "warning", "REXWATCH_LOG_FORMAT": "json"})
    server_log = open(data / "server.log", "w")  # noqa: SIM115 - open for the server's whole life
    proc = subprocess.Popen([sys.executable, "-m", "rexwatch", "server", "--data-dir", str(data / "d"),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=server_log)
    wait_healthy(url, proc)
    ps = psutil.Process(proc.pid)
    load0 = os.getloadavg()[0]
    print(f"machine: {platform.machine()}, {psutil.cpu_count()} cores, load {load0:.1f}, "
          f"Python {platform.python_version()}, {dt.date.today()}; duration {duration:g} s, "
          f"logs {args.log_rate:g} ev/s, metrics {args.metric_rate:g} dp/s", flush=True)

    cfg = Config(retries={"max_attempts": 1}, read_timeout=120, connect_timeout=10, max_pool_connections=20)

    def client(service: str):
        return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="soak",
                            aws_secret_access_key="soak", config=cfg)

    logs, cw = client("logs"), client("cloudwatch")
    logs.create_log_group(logGroupName=GROUP)
    for s in ("w0", "w1"):
        logs.create_log_stream(logGroupName=GROUP, logStreamName=s)
    for i in range(5):
        cw.put_metric_alarm(AlarmName=f"soak-{i}", Namespace=NAMESPACE, MetricName="Load", Statistic="Average",
                            Dimensions=[{"Name": "Host", "Value": f"h{i % 4}"}],
                            Period=60, EvaluationPeriods=1, Threshold=40.0 + i * 5,
                            ComparisonOperator="GreaterThanThreshold")

    tally = Tally()
    stop = threading.Event()
    acked_events = [0, 0]
    acked_points = [0]
    started = time.time()

    def log_writer(i: int) -> None:
        c = client("logs")
        n = 0
        per_call = 100
        gap = per_call / (args.log_rate / 2)
        nxt = time.monotonic()
        while not stop.is_set():
            now = int(time.time() * 1000)
            events = [{"timestamp": now, "message": json.dumps({"w": i, "n": n, "j": j, "level": "INFO",
                                                                 "duration": random.randint(1, 2000)})}
                      for j in range(per_call)]
            if timed(tally, "PutLogEvents", c.put_log_events, logGroupName=GROUP, logStreamName=f"w{i}",
                     logEvents=events) is not None:
                acked_events[i] += per_call
            n += 1
            nxt += gap
            stop.wait(max(0.0, nxt - time.monotonic()))  # pacing, not synchronisation

    def metric_writer() -> None:
        c = client("cloudwatch")
        per_call = 20
        gap = per_call / args.metric_rate
        nxt = time.monotonic()
        while not stop.is_set():
            at = dt.datetime.now(dt.UTC)
            data_ = [{"MetricName": "Load", "Value": random.uniform(0, 100), "Timestamp": at,
                      "Dimensions": [{"Name": "Host", "Value": f"h{j % 4}"}]} for j in range(per_call)]
            if timed(tally, "PutMetricData", c.put_metric_data, Namespace=NAMESPACE, MetricData=data_) is not None:
                acked_points[0] += per_call
            nxt += gap
            stop.wait(max(0.0, nxt - time.monotonic()))

    def reader() -> None:
        lc, mc = client("logs"), client("cloudwatch")
        k = 0
        while not stop.is_set():
            now = dt.datetime.now(dt.UTC)
            k += 1
            timed(tally, "FilterLogEvents", lc.filter_log_events, logGroupName=GROUP,
                  filterPattern="{ $.duration > 1900 }", limit=100,
                  startTime=int((time.time() - 300) * 1000))
            timed(tally, "GetMetricStatistics", mc.get_metric_statistics, Namespace=NAMESPACE, MetricName="Load",
                  Dimensions=[{"Name": "Host", "Value": "h1"}], StartTime=now - dt.timedelta(minutes=30),
                  EndTime=now, Period=60, Statistics=["Average", "Maximum"], ExtendedStatistics=["p99"])
            timed(tally, "DescribeAlarms", mc.describe_alarms)
            if k % 5 == 0:
                q = timed(tally, "StartQuery", lc.start_query, logGroupName=GROUP, startTime=int(time.time()) - 600,
                          endTime=int(time.time()) + 60,
                          queryString="stats count(*) as n, avg(duration) by bin(1m)")
                if q:
                    for _ in range(600):
                        r = timed(tally, "GetQueryResults", lc.get_query_results, queryId=q["queryId"])
                        if r is None or r["status"] not in ("Scheduled", "Running"):
                            break
                        stop.wait(0.2)
            stop.wait(1.0)

    hostile_threads: list[threading.Thread] = []

    def hostile() -> None:
        # Each hostile request in its own thread, so one the server takes long over does not hold up the
        # others; at most two at once.
        kinds = 0
        while not stop.wait(5.0):
            hostile_threads[:] = [t for t in hostile_threads if t.is_alive()]
            if len(hostile_threads) >= 2:
                continue
            kinds += 1
            t = threading.Thread(target=hostile_one, args=(kinds % 5,))
            hostile_threads.append(t)
            t.start()

    def hostile_one(k: int) -> None:
        lc, mc = client("logs"), client("cloudwatch")
        if k == 0:  # 3 MB body to the AWS door
            timed(tally, "hostile:oversized", httpx.post, f"{url}/", content=b"x" * (3 << 20), timeout=120,
                  headers={"X-Amz-Target": "Logs_20140328.PutLogEvents",
                           "Content-Type": "application/x-amz-json-1.1"})
        elif k == 1:  # a signature that cannot be right
            timed(tally, "hostile:bad-signature", httpx.post, f"{url}/", timeout=120,
                  content=json.dumps({"logGroupNamePrefix": "/"}),
                  headers={"X-Amz-Target": "Logs_20140328.DescribeLogGroups",
                           "Content-Type": "application/x-amz-json-1.1",
                           "Authorization": "AWS4-HMAC-SHA256 Credential=soak/20200101/us-east-1/logs/"
                                            "aws4_request, SignedHeaders=host, Signature=00"})
        elif k == 2:  # exponential-looking space-delimited pattern
            timed(tally, "hostile:pathological-pattern", lc.filter_log_events, logGroupName=GROUP,
                  filterPattern="[a, ..., x0!=q, ..., x1!=q, ..., x2!=q, ..., z=nomatch, ...]", limit=10,
                  startTime=int((time.time() - 120) * 1000))
        elif k == 3:  # years at a 1-second period
            now = dt.datetime.now(dt.UTC)
            timed(tally, "hostile:huge-range", mc.get_metric_data, StartTime=now - dt.timedelta(days=3000),
                  EndTime=now, MetricDataQueries=[{"Id": "m", "MetricStat": {
                      "Metric": {"Namespace": NAMESPACE, "MetricName": "Load"}, "Period": 1,
                      "Stat": "Average"}}])
        else:  # a NaN timestamp in raw JSON
            timed(tally, "hostile:nan-timestamp", httpx.post, f"{url}/", timeout=120,
                  content=b'{"logGroupName": "/soak/app", "logStreamName": "w0", '
                          b'"logEvents": [{"timestamp": NaN, "message": "x"}]}',
                  headers={"X-Amz-Target": "Logs_20140328.PutLogEvents",
                           "Content-Type": "application/x-amz-json-1.1"})

    rss: list[tuple[float, float]] = []

    def sampler() -> None:
        while True:
            try:
                rss.append((time.time() - started, ps.memory_info().rss / 2**20))
            except psutil.Error:
                return
            if stop.wait(10.0):
                return

    threads = [threading.Thread(target=log_writer, args=(i,)) for i in range(2)]
    threads += [threading.Thread(target=f) for f in (metric_writer, reader, hostile, sampler)]
    for t in threads:
        t.start()
    try:
        last = time.monotonic()
        while time.time() - started < duration:
            time.sleep(1)  # the soak's own clock, not a synchronisation
            if time.monotonic() - last >= 60:
                last = time.monotonic()
                print(f"  {time.time() - started:5.0f} s: events {sum(acked_events)}, points {acked_points[0]}, "
                      f"5xx {tally.five_xx()}, rss {rss[-1][1] if rss else 0:.0f} MiB", flush=True)
    finally:
        stop.set()
        for t in threads + hostile_threads:
            t.join(300)

    # Acknowledged data: every event and datapoint is readable.
    q = logs.start_query(logGroupName=GROUP, startTime=int(started) - 60, endTime=int(time.time()) + 60,
                         queryString="stats count(*) as n")
    for _ in range(600):
        r = logs.get_query_results(queryId=q["queryId"])
        if r["status"] not in ("Scheduled", "Running"):
            break
        time.sleep(0.5)
    stored_events = int(float(r["results"][0][0]["value"])) if r["results"] else 0
    now = dt.datetime.now(dt.UTC)
    stored_points = 0.0
    for h in range(4):
        pts = cw.get_metric_statistics(Namespace=NAMESPACE, MetricName="Load",
                                       Dimensions=[{"Name": "Host", "Value": f"h{h}"}],
                                       StartTime=dt.datetime.fromtimestamp(started - 120, dt.UTC),
                                       EndTime=now + dt.timedelta(minutes=2), Period=86400,
                                       Statistics=["SampleCount"])["Datapoints"]
        stored_points += sum(p["SampleCount"] for p in pts)
    alarms = cw.describe_alarms(AlarmNamePrefix="soak-")["MetricAlarms"]
    metrics_text = httpx.get(f"{url}/metrics", timeout=60).text
    evals = [ln for ln in metrics_text.splitlines()
             if ln.startswith(("rexwatch_alarm_evaluations_total", "rexwatch_alarm_evaluation_errors_total"))]
    rss_end = ps.memory_info().rss / 2**20
    proc.terminate()
    code = proc.wait(60)
    server_log.close()

    print()
    print(f"| soak {duration:g} s | value |")
    print("|---|---|")
    total = sum(sum(c.values()) for c in tally.status.values())
    print(f"| requests | {total} |")
    print(f"| 5xx (or no answer) | {tally.five_xx()} |")
    print(f"| log events acknowledged / readable at the end | {sum(acked_events)} / {stored_events} "
          f"({'none lost' if stored_events >= sum(acked_events) else 'LOST ' + str(sum(acked_events) - stored_events)}) |")
    print(f"| datapoints acknowledged / readable at the end | {acked_points[0]} / {stored_points:.0f} "
          f"({'none lost' if stored_points >= acked_points[0] else 'LOST'}) |")
    states = ", ".join(f"{a['AlarmName']}={a['StateValue']}" for a in alarms)
    print(f"| alarms | {states} |")
    print(f"| evaluator | {'; '.join(evals)} |")
    print(f"| server exit code after SIGTERM | {code} |")
    print(f"| load average start / end | {load0:.1f} / {os.getloadavg()[0]:.1f} |")
    print()
    print("| operation | requests | statuses | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for op in sorted(tally.latency):
        lat = tally.latency[op]
        statuses = ", ".join(f"{c}x{n}" for c, n in sorted(tally.status[op].items()))
        print(f"| {op} | {len(lat)} | {statuses} | {pct(lat, 0.5) * 1000:.1f} | {pct(lat, 0.99) * 1000:.1f} |")
    print()
    print("RSS (MiB) over time: " + ", ".join(f"{t:.0f}s {m:.0f}" for t, m in rss[:: max(1, len(rss) // 12)])
          + f", end {rss_end:.0f}")
    for e in tally.errors[:10]:
        print("error:", e)


if __name__ == "__main__":
    main()

"""Logs figures: HTTP ingest rate vs a direct chdb insert, FilterLogEvents over 1 M events,
bytes per event and compression, peak server RSS.

Runs ``rexwatch server`` as a subprocess (workers off) on a temp data dir and
sends PutLogEvents (AWS JSON 1.1) from 4 client threads, 10,000-event batches
of compact JSON API log lines (AWS caps a batch at 1,048,576 bytes including
26 bytes per event, so 10,000 events average under 78 bytes). Then the same
rows go into a fresh chdb table with the same DDL, 10,000 rows per Arrow
insert, in this process while the server is idle. Bounded: a fixed event count.

Metric filters: then the first ``--filter-events`` of the same events go into a
group with two metric filters (a count of 5xx and the duration as a value):
the PutLogEvents rate there, and the rate at which the metric-filter worker
turned them into datapoints (from the first request until GetMetricStatistics
shows every 5xx), which runs off the ingest path.

Usage: python bench/bench_logs.py [--events 1000000] [--threads 4] [--filter-events 200000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import httpx
import numpy as np
import orjson
import psutil
import pyarrow as pa

from benchlib import wait_healthy
from rexwatch.testing import free_port

BATCH = 10_000
PATHS = ["/api/users", "/api/tenants", "/api/roles", "/api/invitations", "/api/audit", "/health", "/api/login",
         "/api/users/me", "/api/tenants/t9", "/api/metrics"]
STATUS = [200] * 40 + [201] * 5 + [204] * 3 + [400, 401, 403, 404, 404, 409, 500, 502]


def machine() -> str:
    return (f"{platform.machine()}, {psutil.cpu_count()} cores, {psutil.virtual_memory().total // 2**30} GiB, "
            f"Python {platform.python_version()}")


def make_batches(n_events: int, seed: int = 7) -> list[tuple[np.ndarray, list[str]]]:
    """Compact JSON API log lines; ~1 % slower than 1000 ms, ~6 % at level ERROR."""
    rnd = random.Random(seed)
    now = int(time.time() * 1000) - 3_600_000
    batches = []
    for b in range(n_events // BATCH):
        msgs = []
        for _ in range(BATCH):
            status = rnd.choice(STATUS)
            level = "ERROR" if status >= 500 or rnd.random() < 0.03 else ("WARN" if status >= 400 else "INFO")
            duration = rnd.randint(1000, 4000) if rnd.random() < 0.01 else int(rnd.expovariate(1 / 60))
            msgs.append(f'{{"level":"{level}","path":"{rnd.choice(PATHS)}","status":{status},'
                        f'"duration":{duration},"user":{rnd.randint(1, 5000)}}}')
        ts = np.sort(np.array([now + b * 300 + rnd.randint(0, 299) for _ in range(BATCH)], dtype=np.int64))
        batches.append((ts, msgs))
    return batches


def body(group: str, stream: str, ts: np.ndarray, msgs: list[str]) -> bytes:
    events = [{"timestamp": int(t), "message": m} for t, m in zip(ts, msgs, strict=True)]
    size = sum(len(m.encode()) + 26 for m in msgs)
    assert size <= 1_048_576, f"batch of {size} bytes is over the PutLogEvents limit"
    return orjson.dumps({"logGroupName": group, "logStreamName": stream, "logEvents": events})


def aws(client: httpx.Client, url: str, op: str, payload: dict | bytes) -> httpx.Response:
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return client.post(url, content=data, headers={"X-Amz-Target": f"Logs_20140328.{op}",
                                                   "Content-Type": "application/x-amz-json-1.1"})


class RssWatch(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)


def ingest_http(url: str, bodies: list[bytes], threads: int) -> tuple[float, int]:
    work = list(enumerate(bodies))
    lock = threading.Lock()
    throttled = 0

    def run() -> None:
        nonlocal throttled
        with httpx.Client(timeout=120) as c:
            while True:
                with lock:
                    if not work:
                        return
                    _, data = work.pop()
                for _attempt in range(50):
                    r = aws(c, url, "PutLogEvents", data)
                    if r.status_code == 200:
                        break
                    assert r.status_code == 429, r.text
                    with lock:
                        throttled += 1
                    time.sleep(0.05)

    started = time.perf_counter()
    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - started, throttled


def metric_filters(url: str, group: str, batches: list[tuple[np.ndarray, list[str]]], threads: int) -> dict:
    """Ingest into a group with two metric filters; time the acks, then the datapoints."""
    import boto3
    from botocore.config import Config

    with httpx.Client(timeout=120) as c:
        assert aws(c, url, "CreateLogGroup", {"logGroupName": group}).status_code == 200
        for i in range(4):
            assert aws(c, url, "CreateLogStream", {"logGroupName": group, "logStreamName": f"w{i}"}).status_code == 200
        for name, pattern, value in (("5xx", "{ $.status >= 500 }", "1"), ("latency", "{ $.duration >= 0 }",
                                                                           "$.duration")):
            r = aws(c, url, "PutMetricFilter", {
                "logGroupName": group, "filterName": name, "filterPattern": pattern,
                "metricTransformations": [{"metricName": name, "metricNamespace": "Bench/Filters",
                                           "metricValue": value}]})
            assert r.status_code == 200, r.text
    bodies = [body(group, f"w{i % 4}", ts, msgs) for i, (ts, msgs) in enumerate(batches)]
    n = len(bodies) * BATCH
    expected = sum(m.count('"status":5') for _, msgs in batches for m in msgs)
    started = time.perf_counter()
    ingest_s, _ = ingest_http(url, bodies, threads)
    cw = boto3.client("cloudwatch", endpoint_url=url, region_name="us-east-1", aws_access_key_id="k",
                      aws_secret_access_key="s", config=Config(retries={"max_attempts": 1}, read_timeout=300))
    now = dt.datetime.now(dt.UTC)
    deadline = time.monotonic() + 600
    total = 0.0
    while time.monotonic() < deadline:
        r = cw.get_metric_statistics(Namespace="Bench/Filters", MetricName="5xx", Statistics=["Sum"],
                                     StartTime=now - dt.timedelta(hours=3), EndTime=now + dt.timedelta(minutes=5),
                                     Period=3 * 3600 + 300)
        total = sum(d["Sum"] for d in r["Datapoints"])
        print(f"  {time.perf_counter() - started:.1f} s: {total:.0f} of {expected} 5xx counted", file=sys.stderr)
        if total >= expected:
            break
        time.sleep(0.5)
    done_s = time.perf_counter() - started
    assert total == expected, f"metric filters produced {total} of {expected} 5xx datapoints"
    return {"events": n, "ingest_rate": n / ingest_s, "filter_rate": n / done_s, "lag_s": done_s - ingest_s}


def direct_chdb(batches: list[tuple[np.ndarray, list[str]]]) -> tuple[float, dict]:
    from rexwatch.stores.telemetry.chdb import ChdbExecutor, engine_for

    path = tempfile.mkdtemp(prefix="bench-logs-chdb-")
    x = ChdbExecutor(engine_for(path), "bench")
    try:
        return _direct(x, batches)
    finally:
        x.close()
        shutil.rmtree(path, ignore_errors=True)


def _direct(x, batches: list[tuple[np.ndarray, list[str]]]) -> tuple[float, dict]:
    from rexwatch.stores.telemetry.schema import apply

    apply(x)
    tables = []
    seq = 1
    now = np.int64(time.time() * 1000)
    for i, (ts, msgs) in enumerate(batches):
        n = len(msgs)
        tables.append(pa.table({
            "group_id": pa.array(np.full(n, 1, dtype=np.uint64)),
            "stream_id": pa.array(np.full(n, i % 4 + 1, dtype=np.uint64)),
            "log_stream": pa.array([f"w{i % 4}"] * n),
            "ts": pa.array(ts).cast(pa.timestamp("ms", tz="UTC")),
            "message": pa.array(msgs),
            "seq": pa.array(np.arange(seq, seq + n, dtype=np.uint64)),
            "ingest_ts": pa.array(np.full(n, now)).cast(pa.timestamp("ms", tz="UTC")),
        }))
        seq += n
    started = time.perf_counter()
    for t in tables:
        x.insert_arrow("log_events", t)
    elapsed = time.perf_counter() - started
    x.execute("OPTIMIZE TABLE {db:Identifier}.log_events FINAL")
    parts = x.query_rows(
        "SELECT sum(rows), sum(bytes_on_disk), sum(data_uncompressed_bytes) FROM system.parts "
        "WHERE database = {d:String} AND table = 'log_events' AND active", {"d": x.database})[0]
    cols = dict(x.query_rows(
        "SELECT column, sum(column_data_compressed_bytes) FROM system.parts_columns "
        "WHERE database = {d:String} AND table = 'log_events' AND active GROUP BY column", {"d": x.database}))
    raw = x.query_rows("SELECT sum(length(message)) FROM {db:Identifier}.log_events")[0][0]
    # The recompression that runs an hour after ingest, forced now by shortening its TTL.
    x.execute("ALTER TABLE {db:Identifier}.log_events MODIFY TTL ingest_ts + INTERVAL 0 SECOND RECOMPRESS CODEC(ZSTD(9))")
    x.execute("ALTER TABLE {db:Identifier}.log_events MATERIALIZE TTL SETTINGS mutations_sync = 1")
    x.execute("OPTIMIZE TABLE {db:Identifier}.log_events FINAL")
    recompressed = x.query_rows(
        "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = {d:String} AND table = 'log_events' "
        "AND active", {"d": x.database})[0][0]
    # Engine-only times of the two FilterLogEvents queries, on the same rows, without HTTP.
    from rexwatch.services.logs.model import Group
    from rexwatch.services.logs.patterns import compile_filter
    from rexwatch.stores.telemetry.logs import LogsStore, event_source

    g = Group(1, "/aws/ecs/utm-api", 0, None, None, "STANDARD", False, None, None)
    src = event_source([g], {}, int(time.time() * 1000))
    store = LogsStore(x)
    slow = compile_filter("{ $.duration > 1000 }").sql()
    err = compile_filter("ERROR").sql()
    engine = {
        "error_page": cpu_timed(lambda: store.page(src, err, limit=101, max_seq=2**63)),
        "slow_page": cpu_timed(lambda: store.page(src, slow, limit=10_001, max_seq=2**63)),
    }
    return elapsed, {"rows": parts[0], "on_disk": parts[1], "uncompressed": parts[2], "raw_message": raw,
                     "columns": cols, "engine": engine, "recompressed": recompressed}


def timed(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def cpu_timed(fn, repeat: int = 5) -> tuple[float, float]:
    """(best wall seconds, CPU seconds of this process for that run): CPU does not depend on how
    many other programs share the machine, wall time does."""
    me = psutil.Process()
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        c = sum(me.cpu_times()[:2])
        t = time.perf_counter()
        fn()
        wall = time.perf_counter() - t
        if wall < best[0]:
            best = (wall, sum(me.cpu_times()[:2]) - c)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--filter-events", type=int, default=200_000)
    args = ap.parse_args()

    load = psutil.getloadavg()
    print(f"generating {args.events} events…", file=sys.stderr)
    batches = make_batches(args.events)
    group = "/aws/ecs/utm-api"
    bodies = [body(group, f"w{i % 4}", ts, msgs) for i, (ts, msgs) in enumerate(batches)]
    avg_len = sum(len(m) for _, ms in batches for m in ms) / args.events

    data_dir = tempfile.mkdtemp(prefix="bench-logs-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "rexwatch", "server", "--data-dir", data_dir, "--port",
                             str(port), "--workers", "none"], stdout=subprocess.DEVNULL,
                            # Not a pipe: nobody reads it while the bench runs, and a full pipe would
                            # block the server's logging (one access line per request).
                            stderr=subprocess.DEVNULL)
    try:
        wait_healthy(url, proc)
        indexed = group + "-indexed"
        with httpx.Client(timeout=120) as c:
            for g in (group, indexed):
                assert aws(c, url, "CreateLogGroup", {"logGroupName": g}).status_code == 200
                for i in range(4):
                    assert aws(c, url, "CreateLogStream", {"logGroupName": g, "logStreamName": f"w{i}"}).status_code == 200
            # Rows ingested 62 s or more after the policy is set read `duration` from the fields map.
            policy = {"logGroupIdentifier": indexed, "policyDocument": '{"Fields": ["duration", "level"]}'}
            assert aws(c, url, "PutIndexPolicy", policy).status_code == 200
        policy_set = time.monotonic()
        watch = RssWatch(proc.pid)
        watch.start()
        cpu0 = sum(psutil.Process(proc.pid).cpu_times()[:2])
        me0 = sum(psutil.Process().cpu_times()[:2])
        print("ingesting through HTTP…", file=sys.stderr)
        http_s, throttled = ingest_http(url, bodies, args.threads)
        watch.stop.set()
        http_rate = args.events / http_s
        server_cpu = (sum(psutil.Process(proc.pid).cpu_times()[:2]) - cpu0) / http_s
        client_cpu = (sum(psutil.Process().cpu_times()[:2]) - me0) / http_s

        time.sleep(max(0.0, 65 - (time.monotonic() - policy_set)))
        print("ingesting into a group with an index policy on duration…", file=sys.stderr)
        indexed_bodies = [body(indexed, f"w{i % 4}", ts, msgs) for i, (ts, msgs) in enumerate(batches)]
        idx_s, _ = ingest_http(url, indexed_bodies, args.threads)
        del indexed_bodies
        idx_rate = args.events / idx_s

        with httpx.Client(timeout=120) as c:
            def first_error_page() -> None:
                r = aws(c, url, "FilterLogEvents", {"logGroupName": group, "filterPattern": "ERROR", "limit": 100})
                assert r.status_code == 200 and len(r.json()["events"]) == 100

            slow_count = 0

            def all_slow(g: str = group) -> None:
                nonlocal slow_count
                token, n = None, 0
                while True:
                    p = {"logGroupName": g, "filterPattern": "{ $.duration > 1000 }"}
                    if token:
                        p["nextToken"] = token
                    r = aws(c, url, "FilterLogEvents", p).json()
                    n += len(r["events"])
                    token = r.get("nextToken")
                    if not token:
                        break
                slow_count = n

            def error_default_page() -> None:
                r = aws(c, url, "FilterLogEvents", {"logGroupName": group, "filterPattern": "ERROR"})
                assert r.status_code == 200

            t_error = timed(first_error_page)
            t_error_10k = timed(error_default_page, 3)
            t_slow = timed(all_slow, 3)
            t_slow_idx = timed(lambda: all_slow(indexed), 3)
        rss = watch.peak
        mf = metric_filters(url, group + "-filtered", batches[: max(1, args.filter_events // BATCH)], args.threads)
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)

    print("direct chdb insert of the same rows…", file=sys.stderr)
    direct_s, disk = direct_chdb(batches)
    direct_rate = args.events / direct_s
    per_event = disk["on_disk"] / disk["rows"]
    ratio_raw = disk["raw_message"] / disk["on_disk"]
    msg_bytes = disk["columns"].get("message", 0)
    # Small runs end in compact parts, which do not account bytes per column.
    msg_ratio = (f"{disk['raw_message'] / msg_bytes:.1f}x" if msg_bytes > disk["raw_message"] / 100
                 else "n/a (compact parts)")

    today = dt.date.today().isoformat()
    print(f"""
## Logs (`bench/bench_logs.py`)

{today}, {machine()}, {args.events:,} events, average message {avg_len:.0f} bytes,
load average at start {load[0]:.1f} (the machine is shared)

| figure | result | goal |
|---|---|---|
| PutLogEvents over HTTP, {args.threads} client threads, 10,000-event batches | {http_rate:,.0f} events/s ({throttled} throttled retries) | ≥ 100,000 |
| direct chdb insert of the same rows, 10,000-row Arrow inserts | {direct_rate:,.0f} events/s | — |
| ratio HTTP / direct | {http_rate / direct_rate:.2f} | ≥ 0.3 |
| FilterLogEvents `ERROR`, first page of 100 | {t_error * 1000:.0f} ms | < 100 ms |
| FilterLogEvents `ERROR`, first page of 10,000 (default limit) | {t_error_10k * 1000:.0f} ms | — |
| FilterLogEvents `{{ $.duration > 1000 }}`, all pages ({slow_count:,} events) | {t_slow * 1000:.0f} ms | < 300 ms |
| the same with an index policy on `duration` (fields map) | {t_slow_idx * 1000:.0f} ms | < 300 ms |
| PutLogEvents into that group (policy fields parsed at ingest) | {idx_rate:,.0f} events/s | — |
| engine only (same rows, no HTTP), wall (CPU): `ERROR` first page | {disk["engine"]["error_page"][0] * 1000:.0f} ms ({disk["engine"]["error_page"][1] * 1000:.0f} ms CPU) | — |
| engine only, wall (CPU): `{{ $.duration > 1000 }}` page query over all events | {disk["engine"]["slow_page"][0] * 1000:.0f} ms ({disk["engine"]["slow_page"][1] * 1000:.0f} ms CPU) | — |
| bytes on disk per event, fresh parts (default LZ4, merged) | {per_event:.1f} B | — |
| compression: raw message bytes / bytes on disk (all columns), fresh parts | {ratio_raw:.1f}x | ≥ 8x |
| bytes on disk per event after the hourly recompression (ZSTD(9)) | {disk["recompressed"] / disk["rows"]:.1f} B | — |
| compression after the hourly recompression | {disk["raw_message"] / disk["recompressed"]:.1f}x | ≥ 8x |
| compression of the message column alone, fresh parts | {msg_ratio} | — |
| peak server RSS during ingest | {rss / 2**20:.0f} MiB | — |
| CPU during ingest: server / clients (cores) | {server_cpu:.2f} / {client_cpu:.2f} | — |
| PutLogEvents into a group with 2 metric filters ({mf["events"]:,} events) | {mf["ingest_rate"]:,.0f} events/s | — |
| metric filters: events turned into datapoints by the worker, off the ingest path | {mf["filter_rate"]:,.0f} events/s (last datapoint {mf["lag_s"]:.1f} s after the last ack) | — |
""")


if __name__ == "__main__":
    main()

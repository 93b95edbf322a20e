"""Intake figures: datapoints per second through OTLP/HTTP metrics and Prometheus remote_write.

Runs ``rexwatch server`` as a subprocess (workers off) on a temp data dir and
sends prebuilt request bodies from several client threads:

- OTLP: ``ExportMetricsServiceRequest`` in binary protobuf, one resource with
  ``--series`` gauge series (20 metrics x N attribute sets) of
  ``--points`` points each per request, as an SDK or collector batches them;
- PutMetricData: calls of 1,000 items, in the AWS query protocol (older SDKs) and in
  smithy-rpc-v2-cbor (what boto3 and the AWS CLI send to CloudWatch today);
- logs: the same 1,000-event batches of JSON lines through PutLogEvents and OTLP/HTTP logs
  (events per second; "to readable" is not measured for them);
- traces (when the server has ``/v1/traces``): ``ExportTraceServiceRequest`` of 512 spans, over
  OTLP/HTTP and, when the server answers OTLP/gRPC (``otlp_grpc_port``), over gRPC;
- remote_write: snappy ``WriteRequest`` bodies of 2,000 samples (500 series x
  4 samples, Prometheus' ``max_samples_per_send`` is 2,000 since 2.43; 500 before);
- remote_write 2.0 (``rw2``, when the server answers it): the same samples as
  ``io.prometheus.write.v2.Request`` bodies (labels interned in a symbols table).

The rate counts datapoints acknowledged (200/204) from the first request to
the last answer, then one GetMetricStatistics read (which waits for the
ingest buffer's flush) checks the last points are readable; "to readable"
includes that wait. Bounded: a fixed number of requests.

With ``--baseline DIR`` (a checkout of another revision, e.g. from ``git archive``),
the same bodies are sent to a server run from ``DIR/src`` too, and the table shows
both and their ratio: a before/after comparison taken in one run.

Usage: python bench/bench_intake.py [--requests 60] [--threads 4] [--series 1000] [--points 5] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time

import cramjam
import httpx
import psutil
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from benchlib import wait_healthy
from rexwatch.intake.prom_remote_write import WriteRequest
from rexwatch.testing import free_port

RW2_HEADERS = {"content-type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
               "content-encoding": "snappy", "x-prometheus-remote-write-version": "2.0.0"}



def machine() -> str:
    return (f"{platform.machine()}, {psutil.cpu_count()} cores, {psutil.virtual_memory().total // 2**30} GiB, "
            f"Python {platform.python_version()}")


def otlp_bodies(n: int, series: int, points: int) -> list[bytes]:
    now = time.time_ns() - 600 * 10**9
    out = []
    for r in range(n):
        req = ExportMetricsServiceRequest()
        rm = req.resource_metrics.add()
        rm.resource.attributes.add(key="service.name").value.string_value = "bench"
        sm = rm.scope_metrics.add()
        per_metric = max(1, series // 20)
        for m in range(20):
            metric = sm.metrics.add(name=f"bench.metric{m}", unit="ms")
            for s in range(per_metric):
                for p in range(points):
                    dp = metric.gauge.data_points.add(time_unix_nano=now + (r * points + p) * 10**9,
                                                      as_double=float(s + p))
                    a = dp.attributes.add(key="route")
                    a.value.string_value = f"/r{s}"
        out.append(req.SerializeToString())
    return out


def span_bodies(n: int, per: int = 512) -> list[bytes]:
    """ExportTraceServiceRequests of ``per`` spans (the SDK's BatchSpanProcessor sends 512), traces of
    8 spans (a server span and its children), each span with 5 attributes."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    now = time.time_ns() - 600 * 10**9
    out = []
    for r in range(n):
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        rs.resource.attributes.add(key="service.name").value.string_value = "bench"
        ss = rs.scope_spans.add()
        ss.scope.name = "bench"
        for i in range(per):
            t = r * per + i
            sp = ss.spans.add(trace_id=(t // 8 + 1).to_bytes(16, "big"), span_id=(t + 1).to_bytes(8, "big"),
                              name="GET /orders/{id}" if t % 8 == 0 else f"SELECT t{t % 8}",
                              kind=2 if t % 8 == 0 else 3, start_time_unix_nano=now + t * 1000,
                              end_time_unix_nano=now + t * 1000 + 2_000_000 + (t % 97) * 10_000)
            if t % 8:
                sp.parent_span_id = (t - t % 8 + 1).to_bytes(8, "big")
            for k, v in (("http.route", "/orders/{id}"), ("http.method", "GET"), ("db.system", "postgresql"),
                         ("net.peer.name", "db1"), ("user.id", f"u{t % 1000}")):
                sp.attributes.add(key=k).value.string_value = v
        out.append(req.SerializeToString())
    return out


def put_metric_data_bodies(n: int) -> list[bytes]:
    """PutMetricData calls of 1,000 items (AWS query protocol, as the AWS CLI and boto3 send it):
    50 instances x 20 metrics, 2 dimensions each."""
    from urllib.parse import urlencode

    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    out = []
    for r in range(n):
        form = {"Action": "PutMetricData", "Version": "2010-08-01", "Namespace": "Bench"}
        for i in range(1000):
            p = f"MetricData.member.{i + 1}."
            form[p + "MetricName"] = f"bench_metric{i % 20}"
            form[p + "Dimensions.member.1.Name"] = "InstanceId"
            form[p + "Dimensions.member.1.Value"] = f"i-{i // 20:04d}"
            form[p + "Dimensions.member.2.Name"] = "Env"
            form[p + "Dimensions.member.2.Value"] = "prod"
            form[p + "Timestamp"] = (now + dt.timedelta(seconds=r)).strftime("%Y-%m-%dT%H:%M:%SZ")
            form[p + "Value"] = str(float(i + r))
            form[p + "Unit"] = "Milliseconds"
        out.append(urlencode(form).encode())
    return out


def cbor_put_metric_data_bodies(n: int) -> list[bytes]:
    """The same 1,000-item PutMetricData calls in smithy-rpc-v2-cbor, the protocol boto3 and the AWS CLI
    send to CloudWatch today (botocore's own serializer builds them)."""
    import botocore.session
    from botocore.serialize import create_serializer

    op = botocore.session.get_session().get_service_model("cloudwatch").operation_model("PutMetricData")
    ser = create_serializer("smithy-rpc-v2-cbor")
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    out = []
    for r in range(n):
        data = [{"MetricName": f"bench_metric{i % 20}", "Unit": "Milliseconds", "Value": float(i + r),
                 "Timestamp": now + dt.timedelta(seconds=r),
                 "Dimensions": [{"Name": "InstanceId", "Value": f"i-{i // 20:04d}"}, {"Name": "Env", "Value": "prod"}]}
                for i in range(1000)]
        out.append(ser.serialize_to_request({"Namespace": "BenchCbor", "MetricData": data}, op)["body"])
    return out


CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/PutMetricData"
CBOR_HEADERS = {"content-type": "application/cbor", "smithy-protocol": "rpc-v2-cbor", "accept": "application/cbor"}


def log_messages(n: int, per: int) -> list[list[tuple[int, str]]]:
    """Batches of (epoch ms, message): JSON API log lines, the same for both log paths."""
    now = int(time.time() * 1000) - 600_000
    line = '{{"level":"info","route":"/tenants/{{id}}","status":200,"duration_ms":{},"tenant":"t{}","request_id":"r{:08d}"}}'
    return [[(now + r * per + i, line.format(i % 500, i % 50, r * per + i)) for i in range(per)] for r in range(n)]


def otlp_log_bodies(batches: list[list[tuple[int, str]]]) -> list[bytes]:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    out = []
    for batch in batches:
        req = ExportLogsServiceRequest()
        rl = req.resource_logs.add()
        rl.resource.attributes.add(key="service.name").value.string_value = "bench"
        sl = rl.scope_logs.add()
        for t, msg in batch:
            sl.log_records.add(time_unix_nano=t * 1_000_000).body.string_value = msg
        out.append(req.SerializeToString())
    return out


def put_log_events_bodies(batches: list[list[tuple[int, str]]]) -> list[bytes]:
    import orjson

    return [orjson.dumps({"logGroupName": "/bench/logs", "logStreamName": "s",
                          "logEvents": [{"timestamp": t, "message": m} for t, m in batch]}) for batch in batches]


LOGS_HEADERS = {"content-type": "application/x-amz-json-1.1", "x-amz-target": "Logs_20140328.PutLogEvents"}


def create_log_stream(url: str) -> None:
    for target, body in (("CreateLogGroup", b'{"logGroupName": "/bench/logs"}'),
                         ("CreateLogStream", b'{"logGroupName": "/bench/logs", "logStreamName": "s"}')):
        r = httpx.post(url, content=body, headers={**LOGS_HEADERS, "x-amz-target": f"Logs_20140328.{target}"})
        if r.status_code != 200 and "ResourceAlreadyExists" not in r.text:
            raise SystemExit(f"{target}: {r.status_code} {r.text[:200]}")


def remote_write_bodies(n: int) -> list[bytes]:
    now = int(time.time() * 1000) - 600_000
    out = []
    for r in range(n):
        req = WriteRequest()
        for s in range(500):
            ts = req.timeseries.add()
            ts.labels.add(name="__name__", value=f"bench_metric{s % 20}")
            ts.labels.add(name="instance", value=f"host{s // 20}:9100")
            ts.labels.add(name="job", value="node")
            for p in range(4):
                ts.samples.add(value=float(r + p), timestamp=now + (r * 4 + p) * 1000)
        out.append(bytes(cramjam.snappy.compress_raw(req.SerializeToString())))
    return out


def _interner(req, index: dict[str, int]):
    def ref(s: str) -> int:
        if s not in index:
            index[s] = len(req.symbols)
            req.symbols.append(s)
        return index[s]

    return ref


def remote_write_v2_bodies(n: int) -> list[bytes]:
    """The samples of ``remote_write_bodies`` as 2.0 requests (one sample per series and request is
    what a sender sends in healthy cases; 4 keeps the two paths' work the same)."""
    from rexwatch.intake.prom_remote_write_v2 import Request

    now = int(time.time() * 1000) - 600_000
    out = []
    for r in range(n):
        req = Request()
        index: dict[str, int] = {}
        ref = _interner(req, index)
        ref("")
        for s in range(500):
            ts = req.timeseries.add()
            ts.labels_refs.extend([ref("__name__"), ref(f"bench_rw2_metric{s % 20}"), ref("instance"),
                                   ref(f"host{s // 20}:9100"), ref("job"), ref("node")])
            for p in range(4):
                ts.samples.add(value=float(r + p), timestamp=now + (r * 4 + p) * 1000)
        out.append(bytes(cramjam.snappy.compress_raw(req.SerializeToString())))
    return out


def settle(proc: psutil.Process, deadline_s: float = 30.0) -> None:
    """Wait (bounded) until the server is idle: ClickHouse merges the parts of the previous path's
    inserts in the background, and that CPU belongs to that path, not to the next one measured."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        c0 = cpu_seconds(proc)
        time.sleep(0.5)
        if cpu_seconds(proc) - c0 < 0.05:
            return


def cpu_seconds(server: psutil.Process) -> float:
    """CPU time of the server process so far (all its threads), user and system."""
    t = server.cpu_times()
    return t.user + t.system


def send_all(url: str, path: str, bodies: list[bytes], headers: dict, threads: int) -> tuple[float, int]:
    errors = []
    lock = threading.Lock()
    queue = list(bodies)

    def worker() -> None:
        with httpx.Client(timeout=120) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    b = queue.pop()
                r = client.post(f"{url}{path}", content=b, headers=headers)
                if r.status_code not in (200, 204):
                    errors.append(f"{r.status_code} {r.text[:200]}")

    started = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, first: {errors[0]}")
    return elapsed, len(bodies)


def read_back(url: str, namespace: str, metric: str) -> None:
    import boto3

    cw = boto3.client("cloudwatch", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                      aws_secret_access_key="x")
    now = dt.datetime.now(dt.UTC)
    r = cw.get_metric_statistics(Namespace=namespace, MetricName=metric, StartTime=now - dt.timedelta(hours=2),
                                 EndTime=now + dt.timedelta(hours=1), Period=3600, Statistics=["SampleCount"])
    assert r["Datapoints"] is not None


def measure(src: str | None, otlp: list[bytes], rw: list[bytes], spans: list[bytes], pmd: list[bytes],
            otlp_points: int, threads: int, cbor: list[bytes] = (), logs: tuple = ((), ()),
            rw2: list[bytes] = ()) -> list:
    """Rows (path, points per request, points, ack/s, readable/s, server CPU seconds per 100 k points)
    against a server run from ``src``; a path the server does not have (404) gets no row. The CPU
    column counts every thread of the server process from the first request to the last answer
    (to readable, for the metrics and traces paths), so it holds on a machine shared with other load."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.path.join(src, "src")
    grpc_port = free_port()
    env["REXWATCH_OTLP_GRPC_PORT"] = str(grpc_port)  # a revision without OTLP/gRPC ignores it
    with tempfile.TemporaryDirectory() as data_dir:
        proc = subprocess.Popen([sys.executable, "-m", "rexwatch", "server", "--data-dir", data_dir, "--port",
                                 str(port), "--workers", "none"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env, cwd=src or None)
        try:
            server = psutil.Process(proc.pid)
            wait_healthy(url, proc)
            # Warm up both paths (imports, first inserts) outside the measurement.
            if otlp:
                send_all(url, "/v1/metrics", otlp[:2], {"content-type": "application/x-protobuf"}, 1)
            if rw:
                send_all(url, "/api/v1/write", rw[:2], {"content-type": "application/x-protobuf",
                                                        "content-encoding": "snappy"}, 1)
            if rw2:
                # A server without 2.0 reads the body as an empty 1.0 request (204, no written headers).
                probe = httpx.post(f"{url}/api/v1/write", content=rw2[0], headers=RW2_HEADERS)
                if probe.status_code != 204 or "x-prometheus-remote-write-samples-written" not in probe.headers:
                    rw2 = []
                else:
                    send_all(url, "/api/v1/write", rw2[1:2], RW2_HEADERS, 1)
            rows = []
            for name, path, bodies, per, headers, ns, metric in (
                ("OTLP/HTTP metrics (protobuf)", "/v1/metrics", otlp[2:], otlp_points,
                 {"content-type": "application/x-protobuf"}, "otel", "bench.metric0"),
                ("remote_write (snappy protobuf)", "/api/v1/write", rw[2:], 2000,
                 {"content-type": "application/x-protobuf", "content-encoding": "snappy"}, "prometheus",
                 "bench_metric0"),
                ("remote_write 2.0 (snappy protobuf)", "/api/v1/write", rw2[2:], 2000, RW2_HEADERS, "prometheus",
                 "bench_rw2_metric0"),
                ("PutMetricData, 1,000 items per call (AWS query)", "/", pmd, 1000,
                 {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}, "Bench", "bench_metric0"),
                ("PutMetricData, 1,000 items per call (CBOR, as boto3 sends)", CBOR_PATH, list(cbor), 1000,
                 CBOR_HEADERS, "BenchCbor", "bench_metric0"),
            ):
                if not bodies:
                    continue
                settle(server)
                cpu0 = cpu_seconds(server)
                elapsed, n = send_all(url, path, bodies, headers, threads)
                t0 = time.perf_counter()
                read_back(url, ns, metric)
                readable = elapsed + time.perf_counter() - t0
                points = n * per
                cpu = cpu_seconds(server) - cpu0
                rows.append((name, per, points, points / elapsed, points / readable, cpu / points * 100_000))
            otlp_logs, ple = logs
            if ple:
                create_log_stream(url)
                per = len(orjson_loads(ple[0])["logEvents"])
                # Each log path is warmed up (its first body), then the two take turns, a quarter of
                # the bodies at a time, so both meet the machine's load and the store's background
                # merges alike; a row sums its four turns.
                paths = (("PutLogEvents (JSON 1.1; events)", "/", ple, LOGS_HEADERS),
                         ("OTLP/HTTP logs (protobuf; the same events)", "/v1/logs", otlp_logs,
                          {"content-type": "application/x-protobuf"}))
                for _, path, bodies, headers in paths:
                    send_all(url, path, bodies[:1], headers, 1)
                totals = {name: [0.0, 0, 0.0] for name, *_ in paths}  # seconds, events, CPU seconds
                turns = 4
                for turn in range(turns):
                    for name, path, bodies, headers in paths:
                        part = bodies[1:][turn::turns]
                        cpu0 = cpu_seconds(server)
                        elapsed, n = send_all(url, path, part, headers, threads)
                        t = totals[name]
                        t[0] += elapsed
                        t[1] += n * per
                        t[2] += cpu_seconds(server) - cpu0
                best = {name: (name, per, n, n / secs, n / secs, cpu / n * 100_000)
                        for name, (secs, n, cpu) in totals.items()}
                rows.extend(best.values())
            probe = spans and httpx.post(f"{url}/v1/traces", content=spans[0],
                                         headers={"content-type": "application/x-protobuf"})
            if probe and probe.status_code == 200:
                settle(server)
                cpu0 = cpu_seconds(server)
                elapsed, n = send_all(url, "/v1/traces", spans[1:], {"content-type": "application/x-protobuf"},
                                      threads)
                t0 = time.perf_counter()
                httpx.get(f"{url}/api/v1/traces/{(1).to_bytes(16, 'big').hex()}", timeout=120).raise_for_status()
                readable = elapsed + time.perf_counter() - t0
                cpu = cpu_seconds(server) - cpu0
                rows.append(("OTLP/HTTP traces (protobuf; spans)", 512, n * 512, n * 512 / elapsed,
                             n * 512 / readable, cpu / (n * 512) * 100_000))
                grpc_row = send_grpc_spans(grpc_port, spans[1:], threads, server)
                if grpc_row:
                    rows.append(grpc_row)
        finally:
            proc.terminate()
            proc.wait(60)
    return rows


def send_grpc_spans(port: int, bodies: list[bytes], threads: int, server: psutil.Process) -> tuple | None:
    """The span bodies as OTLP/gRPC ``TraceService/Export`` calls (one channel per client thread);
    None when the server does not answer gRPC there."""
    import grpc

    method = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            channel.unary_unary(method)(bodies[0], timeout=5)
        except grpc.RpcError:
            return None
    queue, lock, errors = list(bodies), threading.Lock(), []

    def worker() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            export = channel.unary_unary(method)
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                try:
                    export(body, timeout=120)
                except grpc.RpcError as e:
                    errors.append(str(e))

    cpu0 = cpu_seconds(server)
    started = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} gRPC calls failed, first: {errors[0]}")
    n = len(bodies) * 512
    return ("OTLP/gRPC traces (spans)", 512, n, n / elapsed, n / elapsed, (cpu_seconds(server) - cpu0) / n * 100_000)


def orjson_loads(b: bytes):
    import orjson

    return orjson.loads(b)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--points", type=int, default=5)
    ap.add_argument("--baseline", help="a source tree of another revision to compare against, in the same run")
    ap.add_argument("--only", default="metrics,logs,traces",
                    help="comma-separated paths to measure: otlp, rw, rw2, query, cbor (or metrics for all five), "
                         "logs, traces")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    if "metrics" in only:
        only |= {"otlp", "rw", "rw2", "query", "cbor"}
    load = psutil.getloadavg()
    print("building request bodies…", file=sys.stderr)
    otlp = otlp_bodies(args.requests, args.series, args.points) if "otlp" in only else []
    otlp_points = (args.series // 20) * 20 * args.points
    rw = remote_write_bodies(args.requests) if "rw" in only else []
    rw2 = remote_write_v2_bodies(args.requests) if "rw2" in only else []
    spans = span_bodies(args.requests) if "traces" in only else []
    pmd = put_metric_data_bodies(args.requests) if "query" in only else []
    cbor = cbor_put_metric_data_bodies(args.requests) if "cbor" in only else []
    batches = log_messages(args.requests, 1000) if "logs" in only else []
    logs = (otlp_log_bodies(batches), put_log_events_bodies(batches))
    runs = [("this revision", None)] + ([("baseline", args.baseline)] if args.baseline else [])
    results: dict[str, list] = {}
    for label, src in runs:
        results[label] = measure(src, otlp, rw, spans, pmd, otlp_points, args.threads, cbor, logs, rw2)
    print(f"\n{dt.date.today()}, {machine()}; {args.threads} client threads, server with workers off; "
          f"1-minute load average before: {load[0]:.1f}\n")
    for label, rows in results.items():
        print(f"{label}:\n")
        print("| path | points per request | points | acknowledged points/s | to readable points/s "
              "| server CPU s per 100 k points |")
        print("|---|---|---|---|---|---|")
        for name, per, points, ack, readable, cpu in rows:
            print(f"| {name} | {per:,} | {points:,} | {ack:,.0f} | {readable:,.0f} | {cpu:.2f} |")
        print()
    if "baseline" in results:
        print("| path | this revision / baseline, acknowledged | to readable | server CPU per point |")
        print("|---|---|---|---|")
        olds = {row[0]: row for row in results["baseline"]}
        for new in results["this revision"]:
            old = olds.get(new[0])
            if old is None:
                continue
            print(f"| {new[0]} | {new[3] / old[3]:.2f}x | {new[4] / old[4]:.2f}x | {new[5] / old[5]:.2f}x |")


if __name__ == "__main__":
    main()

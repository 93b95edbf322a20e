"""Where an OTLP/HTTP traces or logs request spends its CPU, stage by stage, in process (no HTTP).

The bodies are bench_intake.py's: ``ExportTraceServiceRequest`` of 512 spans (5 attributes each)
and ``ExportLogsServiceRequest`` of 1,000 JSON log lines. Each stage is timed with the calling
thread's CPU clock (``time.thread_time``), best of ``--rounds``, so other load on the machine
moves the figures less than wall time would. The HTTP stack's share is what ``bench_intake.py``'s
server CPU per 100 k spans adds to the sum of these.

Usage: python bench/bench_otlp_stages.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import gzip
import os
import pathlib
import sys
import tempfile
import time
from collections.abc import Callable

import orjson
import pyarrow as pa
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

sys.path.insert(0, os.path.dirname(__file__))

import bench_intake as bench
from rexwatch.intake import otlp_logs, otlp_traces
from rexwatch.intake.common import attributes, inflate
from rexwatch.services.logs.model import LogEventBatch
from rexwatch.services.logs.service import LogsService
from rexwatch.services.metrics.ingest import _frame
from rexwatch.services.traces import TracesService
from rexwatch.stores.telemetry.chdb import engine_for
from rexwatch.testing import make_runtime


def best(fn: Callable[[], object], rounds: int, clock: Callable[[], float] = time.thread_time) -> float:
    """Least CPU seconds of ``rounds`` calls (this thread's, or with ``time.process_time`` every
    thread's: ClickHouse inserts run in the engine's own threads)."""
    out = float("inf")
    for _ in range(rounds):
        t = clock()
        fn()
        out = min(out, clock() - t)
    return out


def parsed(cls, body: bytes):
    msg = cls()
    msg.ParseFromString(body)
    return msg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    rounds = args.rounds
    span_body = bench.span_bodies(1)[0]
    span_gz = gzip.compress(span_body)
    batches = bench.log_messages(1, 1000)
    log_body = bench.otlp_log_bodies(batches)[0]
    ple_body = bench.put_log_events_bodies(batches)[0]
    limit = 12 * 2**20
    with tempfile.TemporaryDirectory() as tmp:
        d = pathlib.Path(tmp)
        rt = make_runtime(d / "data", engine_for(str(d / "chdb")), workers="none")
        traces = rt.service(TracesService)
        tables: list[pa.Table] = []
        submit = traces.ingest.submit
        traces.ingest.submit = tables.append  # the checks and Arrow building alone
        req = parsed(ExportTraceServiceRequest, span_body)
        spans = [sp for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans]
        cols = otlp_traces.columns(req)
        traces.put_span_columns(cols)
        table = tables[0]
        big = pa.concat_tables([table] * 100)
        rows = [
            (
                "traces",
                "gzip inflate (a level-9 body)",
                best(lambda: inflate(span_gz, "gzip", limit), rounds),
                512,
            ),
            (
                "traces",
                "protobuf decode",
                best(lambda: parsed(ExportTraceServiceRequest, span_body), rounds),
                512,
            ),
            (
                "traces",
                "door: spans into columns (fresh message each round)",
                best(lambda: otlp_traces.columns(parsed(ExportTraceServiceRequest, span_body)), rounds)
                - best(lambda: parsed(ExportTraceServiceRequest, span_body), rounds),
                512,
            ),
            (
                "traces",
                "  of which attributes as JSON",
                best(lambda: [orjson.dumps(attributes(sp.attributes)) for sp in spans], rounds),
                512,
            ),
            (
                "traces",
                "service: checks and Arrow table",
                best(lambda: traces.put_span_columns(cols), rounds),
                512,
            ),
            ("traces", "write-ahead log frame (Arrow IPC)", best(lambda: _frame(table), rounds), 512),
            (
                "traces",
                "ClickHouse insert, 51,200 spans (the flusher's batch)",
                best(lambda: traces.store.insert(big), 3, time.process_time),
                51_200,
            ),
        ]
        traces.ingest.submit = submit
        logs = rt.service(LogsService)
        logs.create_log_group("/bench/logs")
        logs.create_log_stream("/bench/logs", "s")
        lreq = parsed(ExportLogsServiceRequest, log_body)
        records = [r for rl in lreq.resource_logs for sl in rl.scope_logs for r in sl.log_records]
        tail = otlp_logs._tail({"service.name": "bench"}, {})
        rows += [
            (
                "logs",
                "OTLP: protobuf decode",
                best(lambda: parsed(ExportLogsServiceRequest, log_body), rounds),
                1000,
            ),
            (
                "logs",
                "OTLP: records as JSON messages",
                best(lambda: [otlp_logs.record_bytes(r, tail) for r in records], rounds),
                1000,
            ),
            (
                "logs",
                "OTLP: whole export (decode excluded; group cached)",
                best(lambda: otlp_logs.export(rt, lreq), rounds),
                1000,
            ),
            (
                "logs",
                "PutLogEvents: JSON decode and batch",
                best(lambda: LogEventBatch.from_records(orjson.loads(ple_body)["logEvents"]), rounds),
                1000,
            ),
            (
                "logs",
                "PutLogEvents: logs service put",
                best(
                    lambda: logs.put_log_events(
                        "/bench/logs", "s", LogEventBatch.from_records(orjson.loads(ple_body)["logEvents"])
                    ),
                    rounds,
                ),
                1000,
            ),
        ]
        rt.close()
    print(
        f"\nthread CPU, best of {rounds} (the insert: process CPU, best of 3); load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| path | stage | per request ms | per item µs |")
    print("|---|---|---|---|")
    for path, name, seconds, items in rows:
        per_request = seconds * 1000 * (512 if path == "traces" and items != 512 else items) / items
        print(f"| {path} | {name} | {per_request:.2f} | {seconds / items * 1e6:.2f} |")


if __name__ == "__main__":
    main()

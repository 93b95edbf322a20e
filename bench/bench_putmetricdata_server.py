"""Where a live server's CPU goes while 1,000-item PutMetricData calls arrive, part by part.

Starts ``rexwatch server`` (workers off) from this script with timers patched around the door's
stages (thread CPU time of the decode, the handler, ``build_columns``, the write-ahead log, the
flusher's inserts) and the garbage collector's callbacks, sends ``--requests`` calls (query form
or CBOR, from ``bench_intake``) from 4 client threads, and prints per 100 k points: each stage,
and the process's CPU split by thread (the event loop's thread, the worker threads, chdb's own
threads by name). The stage bench (``bench_putmetricdata_stages.py``) times the stages alone;
this shows what they cost inside the server under concurrent calls, and what lies outside them.

With ``--baseline DIR`` (a source tree of another revision) the same is measured for it, the two
taking turns ``--rounds`` times.

Usage: python bench/bench_putmetricdata_server.py [--kind query|cbor] [--requests 150] [--rounds 2] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

STAGES: dict[str, list[float]] = {}
_LOCK = threading.Lock()


def _add(name: str, cpu: float) -> None:
    with _LOCK:
        s = STAGES.setdefault(name, [0, 0.0])
        s[0] += 1
        s[1] += cpu


def _timed(name: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            _add(name, time.thread_time() - started)

    return wrapper


def serve() -> None:
    """Run the server with the stage timers; SIGUSR1 writes them to $STAGES_OUT."""
    import gc

    def dump(*_: object) -> None:
        with _LOCK:
            data = {k: list(v) for k, v in STAGES.items()}
        tmp = os.environ["STAGES_OUT"] + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, os.environ["STAGES_OUT"])

    signal.signal(signal.SIGUSR1, dump)
    started: dict[int, float] = {}

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            started[threading.get_ident()] = time.thread_time()
        elif (t := started.pop(threading.get_ident(), None)) is not None:
            _add(f"garbage collection, generation {info['generation']}", time.thread_time() - t)

    gc.callbacks.append(on_gc)
    from rexwatch.aws.protocols import cbor, query

    query.decode = _timed("decode (query)", query.decode)
    cbor.decode = _timed("decode (CBOR)", cbor.decode)
    import rexwatch.aws.cloudwatch  # noqa: F401  (registers the handlers)
    from rexwatch.aws.registry import HANDLERS

    for key in [("cloudwatch", "PutMetricData"), ("cloudwatch", "GetMetricStatistics")]:
        HANDLERS[key] = _timed(f"handler {key[1]}", HANDLERS[key])
    from rexwatch.services.metrics import ingest, service

    service.build_columns = _timed("  of it build_columns", service.build_columns)
    ingest.IngestBuffer.submit = _timed("  of it the write-ahead log", ingest.IngestBuffer.submit)
    ingest.IngestBuffer.flush = _timed("flusher: insert (its Python thread)", ingest.IngestBuffer.flush)
    from rexwatch.cli.main import main as cli

    sys.argv = ["rexwatch", *sys.argv[2:]]
    cli()


def measure(src: str | None, kind: str, bodies: list[bytes], rounds: int) -> list[tuple[float, dict, dict]]:
    import psutil

    import bench_intake as bench
    from rexwatch.testing import free_port

    path, headers, ns = (("/", {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}, "Bench")
                         if kind == "query" else (bench.CBOR_PATH, bench.CBOR_HEADERS, "BenchCbor"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out = []
    with tempfile.TemporaryDirectory() as data_dir:
        env = dict(os.environ, STAGES_OUT=os.path.join(data_dir, "stages.json"))
        if src:
            env["PYTHONPATH"] = os.path.join(src, "src")
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", "server", "--data-dir",
                                 os.path.join(data_dir, "d"), "--port", str(port), "--workers", "none"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=src or None)

        def stages() -> dict:
            try:
                os.unlink(env["STAGES_OUT"])
            except FileNotFoundError:
                pass
            proc.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while not os.path.exists(env["STAGES_OUT"]):
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not write its stage timers")
                time.sleep(0.02)
            with open(env["STAGES_OUT"]) as f:
                return json.load(f)

        def threads(server: psutil.Process) -> dict[str, float]:
            by_name: dict[str, float] = {}
            for t in server.threads():
                try:
                    with open(f"/proc/{proc.pid}/task/{t.id}/comm") as f:
                        name = f.read().strip()
                except OSError:
                    name = "?"
                name = "event loop (main thread)" if t.id == proc.pid else \
                    "Python worker threads" if name == "python" else f"chdb: {name}"
                by_name[name] = by_name.get(name, 0.0) + t.user_time + t.system_time
            return by_name

        try:
            server = psutil.Process(proc.pid)
            bench.wait_healthy(url, proc)
            bench.send_all(url, path, bodies[:2], headers, 1)  # warm up (first imports, first insert)
            bench.read_back(url, ns, "bench_metric0")
            for _ in range(rounds):
                bench.settle(server)
                st0, th0, cpu0 = stages(), threads(server), bench.cpu_seconds(server)
                bench.send_all(url, path, bodies, headers, 4)
                bench.read_back(url, ns, "bench_metric0")
                bench.settle(server)
                st1, th1, cpu1 = stages(), threads(server), bench.cpu_seconds(server)
                per = 100_000 / (len(bodies) * 1000)
                out.append(((cpu1 - cpu0) * per,
                            {k: (v[1] - st0.get(k, [0, 0.0])[1]) * per for k, v in st1.items()},
                            {k: (v - th0.get(k, 0.0)) * per for k, v in th1.items()}))
        finally:
            proc.terminate()
            proc.wait(60)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=("query", "cbor"), default="cbor")
    ap.add_argument("--requests", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--baseline")
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_intake as bench

    bodies = (bench.put_metric_data_bodies if args.kind == "query" else bench.cbor_put_metric_data_bodies)(
        args.requests)
    runs = [("this revision", None)] + ([("baseline", args.baseline)] if args.baseline else [])
    results: dict[str, list] = {label: [] for label, _ in runs}
    for _ in range(args.rounds):  # the revisions take turns, so both meet the machine's load alike
        for label, src in runs:
            results[label] += measure(src, args.kind, bodies, 1)
    print(f"server CPU s per 100 k points, PutMetricData ({args.kind}), {args.requests} calls of 1,000 items, "
          f"4 client threads; median of {args.rounds} rounds\n")
    labels = list(results)
    print("| part | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))

    def median(xs: list[float]) -> float:
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

    rows: dict[str, dict[str, list[float]]] = {}
    for label, rs in results.items():
        for total, stage, thread in rs:
            rows.setdefault("whole process, to readable", {}).setdefault(label, []).append(total)
            for k, v in {**thread, **stage}.items():
                rows.setdefault(k, {}).setdefault(label, []).append(v)
    order = ["whole process, to readable", "event loop (main thread)", "Python worker threads", "decode (query)",
             "decode (CBOR)", "handler PutMetricData", "  of it build_columns", "  of it the write-ahead log",
             "flusher: insert (its Python thread)", "handler GetMetricStatistics"]
    for part in sorted(rows, key=lambda k: (order.index(k) if k in order else len(order), k)):
        by_label = rows[part]
        if all(median(v) < 0.005 for v in by_label.values()):
            continue
        print(f"| {part} | " + " | ".join(f"{median(by_label[lb]):.3f}" if lb in by_label else "" for lb in labels)
              + " |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve()
    else:
        main()

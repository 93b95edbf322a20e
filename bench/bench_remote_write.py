"""Remote_write from the real ``prometheus`` binary: samples per second rexwatch acknowledges.

Runs three processes on 127.0.0.1, each on a free port:

- ``rexwatch server`` (subprocess, temp data dir, workers off, as bench_intake.py runs it);
- an exporter inside this process: an HTTP server answering ``/metrics`` with ``--series`` series
  in the text exposition format (20 gauge and counter names x N label sets), whose values change at
  every scrape (the bodies are prebuilt, a few of them, and served in turn, so the exporter costs
  little CPU);
- Debian's ``prometheus`` with a temp config and storage dir: it scrapes the exporter every
  ``--interval`` seconds and remote-writes to rexwatch with a ``queue_config`` sized for throughput.

After a warm-up (the first samples sent, then ``--warmup`` seconds), it measures for ``--duration``
seconds, from Prometheus' own metrics (its web port): samples sent and acknowledged
(``prometheus_remote_storage_samples_total``), failed, retried and dropped; whether it falls
behind (the most pending samples, and the largest lag between the newest sample appended and
the newest one sent); and the rexwatch server's CPU seconds (psutil, all threads) per 100 k
samples acknowledged, split between the threads Python started (the door, the HTTP stack, the
flusher's call into ClickHouse) and ClickHouse's own threads (inserts' pipelines, materialized
views, merges). Every wait is bounded; the processes are stopped at the end.

``--series`` sets the offered rate (series per scrape / scrape interval): 50,000 by default,
100,000 to offer the issue's goal.

With ``--baseline DIR`` (a checkout of another revision), the same run is made against a server run
from ``DIR/src`` too, and the table shows both.

Usage: python bench/bench_remote_write.py [--series 50000] [--interval 1] [--duration 60] [--warmup 15]
       [--max-samples-per-send 5000] [--capacity 20000] [--max-shards 8] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import itertools
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from rexwatch.testing import free_port

METRICS = 20


def machine() -> str:
    return (
        f"{platform.machine()}, {psutil.cpu_count()} cores, {psutil.virtual_memory().total // 2**30} GiB, "
        f"Python {platform.python_version()}"
    )


def exposition_bodies(series: int, variants: int = 4) -> list[bytes]:
    """``variants`` text-format bodies of ``series`` series, the same series with other values."""
    per = max(1, series // METRICS)
    out = []
    for v in range(variants):
        lines = []
        for m in range(METRICS):
            kind = "counter" if m % 2 else "gauge"
            name = f"bench_metric{m}_total" if kind == "counter" else f"bench_metric{m}"
            lines.append(f"# HELP {name} A bench series.\n# TYPE {name} {kind}")
            lines.extend(
                f'{name}{{pod="pod-{s // 50:04d}",route="/r{s % 50}"}} {s * 7 + m + v * 13}'
                for s in range(per)
            )
        out.append(("\n".join(lines) + "\n").encode())
    return out


def start_exporter(bodies: list[bytes]) -> tuple[http.server.ThreadingHTTPServer, int]:
    turn = itertools.cycle(bodies)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                body = next(turn)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, port


def prometheus_config(exporter_port: int, rexwatch_url: str, args: argparse.Namespace) -> str:
    return f"""
global:
  scrape_interval: {int(args.interval * 1000)}ms
  scrape_timeout: {int(max(0.5, args.interval * 0.9) * 1000)}ms
scrape_configs:
  - job_name: bench
    static_configs:
      - targets: ["127.0.0.1:{exporter_port}"]
remote_write:
  - url: {rexwatch_url}/api/v1/write
    queue_config:
      capacity: {args.capacity}
      max_samples_per_send: {args.max_samples_per_send}
      max_shards: {args.max_shards}
      min_shards: 1
      batch_send_deadline: 1s
"""


def prom_metrics(url: str) -> dict[str, float]:
    """Prometheus' own metrics, summed by name over their labels (one remote_write queue here)."""
    out: dict[str, float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if not line.startswith("prometheus_remote_storage_"):
            continue
        name, _, value = line.rpartition(" ")
        name = name.split("{", 1)[0]
        try:
            out[name] = out.get(name, 0.0) + float(value)
        except ValueError:
            pass
    return out


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def thread_cpu(proc: psutil.Process) -> dict[int, tuple[str, float]]:
    """CPU seconds per thread, with the thread's name (Linux; empty elsewhere)."""
    out = {}
    for t in proc.threads():
        try:
            name = Path(f"/proc/{proc.pid}/task/{t.id}/comm").read_text().strip()
        except OSError:
            continue
        out[t.id] = (name, t.user_time + t.system_time)
    return out


def python_share(proc: psutil.Process, before: dict[int, tuple[str, float]],
                 after: dict[int, tuple[str, float]]) -> float:
    """CPU seconds of the threads Python started (they keep the process's name; ClickHouse names
    its own threads), including the ClickHouse work they run themselves, such as an insert's call."""
    own = proc.name()[:15]
    return sum(c - before.get(tid, (name, 0.0))[1] for tid, (name, c) in after.items() if name == own)


def wait_for(what: str, predicate, deadline_s: float, *procs: subprocess.Popen) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        for p in procs:
            if p.poll() is not None:
                raise SystemExit(f"{what}: a process exited ({p.args[0]}, code {p.returncode})")
        try:
            if predicate():
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)


SENT = "prometheus_remote_storage_samples_total"
FAILED = "prometheus_remote_storage_samples_failed_total"
RETRIED = "prometheus_remote_storage_samples_retried_total"
DROPPED = "prometheus_remote_storage_samples_dropped_total"
PENDING = "prometheus_remote_storage_samples_pending"
NEWEST_IN = "prometheus_remote_storage_highest_timestamp_in_seconds"
NEWEST_SENT = "prometheus_remote_storage_queue_highest_sent_timestamp_seconds"
SHARDS = "prometheus_remote_storage_shards"


def measure(src: str | None, exporter_port: int, args: argparse.Namespace) -> dict:
    port, prom_port = free_port(), free_port()
    url, prom_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{prom_port}"
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.path.join(src, "src")
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        (Path(tmp) / "prometheus.yml").write_text(prometheus_config(exporter_port, url, args))
        try:
            server_proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "rexwatch",
                    "server",
                    "--data-dir",
                    str(data_dir),
                    "--port",
                    str(port),
                    "--workers",
                    "none",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=src or None,
            )
            procs.append(server_proc)
            server = psutil.Process(server_proc.pid)
            wait_for(
                "rexwatch to answer /health",
                lambda: httpx.get(f"{url}/health", timeout=1).status_code == 200,
                180,
                server_proc,
            )
            prom = subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={Path(tmp) / 'prometheus.yml'}",
                    f"--storage.tsdb.path={Path(tmp) / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(prom)
            wait_for(
                "prometheus to send its first samples",
                lambda: prom_metrics(prom_url).get(SENT, 0) > 0,
                180,
                server_proc,
                prom,
            )
            time.sleep(args.warmup)  # shards scale up, the series are created: outside the measurement
            m0, cpu0, t0 = prom_metrics(prom_url), cpu_seconds(server), time.monotonic()
            threads0 = thread_cpu(server)
            most_pending, most_lag, shards = 0.0, 0.0, 0.0
            end = t0 + args.duration
            while time.monotonic() < end:
                for p in procs:
                    if p.poll() is not None:
                        raise SystemExit(f"{p.args[0]} exited during the measurement (code {p.returncode})")
                m = prom_metrics(prom_url)
                most_pending = max(most_pending, m.get(PENDING, 0.0))
                if m.get(NEWEST_IN) and m.get(NEWEST_SENT):
                    most_lag = max(most_lag, m[NEWEST_IN] - m[NEWEST_SENT])
                shards = max(shards, m.get(SHARDS, 0.0))
                time.sleep(1)
            m1, cpu1, t1 = prom_metrics(prom_url), cpu_seconds(server), time.monotonic()
            py = python_share(server, threads0, thread_cpu(server))
            sent = m1.get(SENT, 0) - m0.get(SENT, 0)
            cpu = cpu1 - cpu0
            return {
                "sent": sent,
                "seconds": t1 - t0,
                "rate": sent / (t1 - t0),
                "offered": args.series // METRICS * METRICS / args.interval,
                "failed": m1.get(FAILED, 0) - m0.get(FAILED, 0),
                "retried": m1.get(RETRIED, 0) - m0.get(RETRIED, 0),
                "dropped": m1.get(DROPPED, 0) - m0.get(DROPPED, 0),
                "pending_end": m1.get(PENDING, 0),
                "most_pending": most_pending,
                "most_lag": most_lag,
                "shards": shards,
                "cpu_per_100k": cpu / sent * 100_000 if sent else float("nan"),
                "py_per_100k": py / sent * 100_000 if sent else float("nan"),
                "server_cores": cpu / (t1 - t0),
            }
        finally:
            for p in reversed(procs):
                p.terminate()
            for p in reversed(procs):
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=50_000)
    ap.add_argument("--interval", type=float, default=1.0, help="scrape interval, seconds")
    ap.add_argument("--duration", type=float, default=60.0, help="measured seconds, after the warm-up")
    ap.add_argument("--warmup", type=float, default=15.0, help="seconds after the first samples sent")
    ap.add_argument("--max-samples-per-send", type=int, default=5000)
    ap.add_argument("--capacity", type=int, default=20_000)
    ap.add_argument("--max-shards", type=int, default=8)
    ap.add_argument(
        "--baseline", help="a source tree of another revision to compare against, in the same run"
    )
    args = ap.parse_args()
    load = psutil.getloadavg()
    version = subprocess.run(["prometheus", "--version"], capture_output=True, text=True, timeout=30)
    print("building exposition bodies…", file=sys.stderr)
    httpd, exporter_port = start_exporter(exposition_bodies(args.series))
    results = {}
    try:
        runs = [("this revision", None)] + ([("baseline", args.baseline)] if args.baseline else [])
        for label, src in runs:
            print(f"measuring {label}…", file=sys.stderr)
            results[label] = measure(src, exporter_port, args)
    finally:
        httpd.shutdown()
    print(
        f"\n{dt.date.today()}, {machine()}; {(version.stdout + version.stderr).splitlines()[0]}; "
        f"1-minute load average before: {load[0]:.1f}"
    )
    print(
        f"{args.series // METRICS * METRICS:,} series scraped every {args.interval:g} s; queue_config: capacity "
        f"{args.capacity:,}, max_samples_per_send {args.max_samples_per_send:,}, max_shards {args.max_shards}; "
        f"{args.duration:g} s measured after {args.warmup:g} s of warm-up; server with workers off\n"
    )
    print(
        "| run | samples acknowledged | samples/s acknowledged | offered samples/s | failed | retried | dropped "
        "| most pending | most lag s | shards | server CPU s per 100 k samples | of which Python threads "
        "| of which ClickHouse threads | server cores busy |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, r in results.items():
        print(
            f"| {label} | {r['sent']:,.0f} | {r['rate']:,.0f} | {r['offered']:,.0f} | {r['failed']:,.0f} "
            f"| {r['retried']:,.0f} | {r['dropped']:,.0f} | {r['most_pending']:,.0f} | {r['most_lag']:.1f} "
            f"| {r['shards']:.0f} | {r['cpu_per_100k']:.2f} | {r['py_per_100k']:.2f} "
            f"| {r['cpu_per_100k'] - r['py_per_100k']:.2f} | {r['server_cores']:.2f} |"
        )


if __name__ == "__main__":
    main()

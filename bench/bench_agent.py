"""The agent's own cost and its tailing throughput, against a real server, PostgreSQL and Redis.

1. Cost: ``rexwatch agent`` runs as its own process with every collector (host, PostgreSQL, Redis)
   at a 60 s interval while this script appends 1,000 lines/s to a tailed file; the agent's CPU
   (share of one core) and RSS are sampled over the run. Goal: < 2 % of a core and < 60 MB.
2. Throughput: a file of N lines is written at once and the time until the server holds all of
   them is measured (lines/s end to end: read, buffer on disk, send, stored).

Only 127.0.0.1; every loop is bounded by --duration or --lines.

Usage: python bench/bench_agent.py [--duration 60] [--lines 200000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from benchlib import wait_healthy

PG = os.environ.get("REXWATCH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("REXWATCH_BENCH_REDIS", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REXWATCH_")}
    env.update({"REXWATCH_LOG_LEVEL": "warning", "REXWATCH_SELF_MONITOR": "false"})
    proc = subprocess.Popen([sys.executable, "-m", "rexwatch", "server", "--data-dir", str(data / "srv"),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_healthy(url, proc)
    return proc, url


def write_config(path: Path, url: str, state: Path, log: Path, group: str, *, collectors: bool) -> None:
    extra = f"""
[postgres]
dsn = "{PG}"
instance = "bench-db"
[redis]
url = "{REDIS}"
cluster = "bench-redis"
""" if collectors else "[host]\nenabled = false\n"
    path.write_text(f"""
[agent]
name = "bench"
interval_s = 60
state_dir = "{state}"
[server]
endpoint = "{url}"
{extra}
[[files]]
path = "{log}"
group = "{group}"
stream = "bench"
from = "start"
""")


def stored(url: str, group: str) -> int:
    """Events the server holds in ``group`` (0 until the agent has created it)."""
    q = httpx.post(f"{url}/api/v1/insights/queries", json={
        "groups": [group], "query": "stats count(*) as n", "start": "1d", "end": "now", "wait_s": 60},
        timeout=120)
    if q.status_code != 201:
        return 0
    rows = q.json().get("rows") or []
    return int(float(rows[0].get("n") or 0)) if rows else 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--lines", type=int, default=200_000)
    args = ap.parse_args()
    duration = max(10.0, min(args.duration, 1800.0))
    tmp = Path(tempfile.mkdtemp(prefix="rxw-agent-bench-"))
    server, url = start_server(tmp)
    print(f"machine: {platform.machine()}, {psutil.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"Python {platform.python_version()}, {dt.date.today()}", flush=True)
    try:
        # 1. Cost with every collector and 1,000 lines/s.
        log = tmp / "app.log"
        log.write_text("")
        cfg = tmp / "agent.toml"
        write_config(cfg, url, tmp / "state1", log, "/bench/cost", collectors=True)
        agent = subprocess.Popen([sys.executable, "-m", "rexwatch", "agent", "--config", str(cfg)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ap_ = psutil.Process(agent.pid)
        time.sleep(3)  # imports and the first collection are start-up, not steady state
        cpu0 = ap_.cpu_times()
        t0 = time.monotonic()
        rss: list[float] = []
        written = 0
        with open(log, "a") as f:
            while (elapsed := time.monotonic() - t0) < duration:
                due = int(elapsed * 1000)
                while written < due:
                    f.write(f"{dt.datetime.now(dt.UTC).isoformat()} INFO request {written} path=/api/v1/x "
                            f"status=200 duration_ms=12\n")
                    written += 1
                f.flush()
                rss.append(ap_.memory_info().rss / 2**20)
                time.sleep(0.05)
        cpu1 = ap_.cpu_times()
        wall = time.monotonic() - t0
        used = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        agent.terminate()
        agent.wait(timeout=60)
        print(f"cost: {written} lines in {wall:.0f} s ({written / wall:.0f}/s), all collectors at 60 s: "
              f"agent CPU {100 * used / wall:.2f} % of a core, RSS max {max(rss):.1f} MiB "
              f"(end {rss[-1]:.1f} MiB)", flush=True)

        # 2. Tailing throughput end to end.
        log2 = tmp / "burst.log"
        with open(log2, "w") as f:
            for i in range(args.lines):
                f.write(f"line {i} " + "x" * 80 + "\n")
        cfg2 = tmp / "agent2.toml"
        write_config(cfg2, url, tmp / "state2", log2, "/bench/burst", collectors=False)
        t0 = time.monotonic()
        agent = subprocess.Popen([sys.executable, "-m", "rexwatch", "agent", "--config", str(cfg2)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = t0 + 600
        n = 0
        while time.monotonic() < deadline:
            n = stored(url, "/bench/burst")
            if n >= args.lines:
                break
            time.sleep(1)
        took = time.monotonic() - t0
        agent.terminate()
        agent.wait(timeout=60)
        print(f"throughput: {n} of {args.lines} lines stored in {took:.1f} s = {n / took:.0f} lines/s end to end "
              f"(agent start-up included)", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()

"""Request overhead of the doors, this tree against another checkout (before/after, as ratios).

Starts one server per source tree, each in its own process with auth on (a bearer key
and an AWS key), then drives both from this process with sequential keep-alive
requests, in interleaved rounds so load on the machine hits both alike:

- ``GET /health``                        public path: the gate looks and lets it through
- ``GET /api/v1/info`` with a bearer key  the gate checks the key before routing
- ``POST /`` DescribeLogGroups, SigV4     the AWS door: headers checked, body streamed, signature
- ``POST /`` DescribeLogGroups, bearer

Usage: python bench/bench_door.py --base OTHER_CHECKOUT [--requests 1000] [--rounds 5]
(OTHER_CHECKOUT is a tree with ``src/rexwatch``, e.g. ``git archive main | tar -x -C DIR``).
Without --base only this tree is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

HERE = Path(__file__).resolve().parents[1]


def serve() -> None:
    """Child: a live server on a temp data dir; prints its URL and keys, runs until stdin closes."""
    from rexwatch.stores.telemetry.chdb import engine_for
    from rexwatch.testing import LiveServer, make_runtime

    with tempfile.TemporaryDirectory() as d:
        engine = engine_for(str(Path(d) / "chdb"))
        rt = make_runtime(Path(d) / "data", engine, workers="none")
        rt.settings.auth = "on"
        bearer = rt.keys.create("bench")
        aws = rt.keys.create("bench-aws", aws=True)
        with LiveServer(rt, run_workers=False) as server:
            import rexwatch

            print(json.dumps({"url": server.url, "token": bearer.token, "akid": aws.access_key_id,
                              "secret": aws.secret_access_key, "module": rexwatch.__file__}), flush=True)
            sys.stdin.read()


def cases(info: dict) -> dict[str, dict]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = b"{}"
    target = {"X-Amz-Target": "Logs_20140328.DescribeLogGroups", "Content-Type": "application/x-amz-json-1.1"}
    req = AWSRequest("POST", info["url"] + "/", data=body, headers=dict(target))
    SigV4Auth(Credentials(info["akid"], info["secret"]), "logs", "us-east-1").add_auth(req)
    # Signed once and replayed: valid for the 15 minutes of allowed skew, and the
    # client's signing cost stays out of the figures.
    bearer = {"Authorization": f"Bearer {info['token']}"}
    return {
        "GET /health (public)": {"method": "GET", "url": "/health"},
        "GET /api/v1/info (bearer)": {"method": "GET", "url": "/api/v1/info", "headers": bearer},
        "AWS DescribeLogGroups (SigV4)": {"method": "POST", "url": "/", "content": body,
                                          "headers": dict(req.headers.items())},
        "AWS DescribeLogGroups (bearer)": {"method": "POST", "url": "/", "content": body,
                                           "headers": {**target, **bearer}},
    }


def per_request_us(client: httpx.Client, case: dict, n: int, server: psutil.Process) -> tuple[float, float]:
    """(wall time, server CPU time) per request in microseconds. On a shared, busy machine the
    server's CPU time is the steadier figure: waiting for a core does not count in it."""
    cpu0 = sum(server.cpu_times()[:2])
    started = time.perf_counter()
    for _ in range(n):
        r = client.request(**case)
        assert r.status_code == 200, (case["url"], r.status_code, r.text[:200])
    wall = (time.perf_counter() - started) / n * 1e6
    return wall, (sum(server.cpu_times()[:2]) - cpu0) / n * 1e6


def start(src: Path) -> tuple[subprocess.Popen, dict]:
    env = {**os.environ, "PYTHONPATH": str(src / "src")}
    proc = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, text=True, cwd=src)
    return proc, json.loads(proc.stdout.readline())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, help="another checkout to compare with (the 'before')")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve()
        return
    trees = {"after": HERE} | ({"before": args.base.resolve()} if args.base else {})
    servers = {name: start(src) for name, src in trees.items()}
    for name, (_, info) in servers.items():
        # The child must import the tree it was given, not whatever is installed.
        assert Path(info["module"]).resolve().is_relative_to(trees[name]), (name, info["module"])
    try:
        clients = {name: httpx.Client(base_url=info["url"], timeout=30) for name, (_, info) in servers.items()}
        procs = {name: psutil.Process(proc.pid) for name, (proc, _) in servers.items()}
        plan = {name: cases(info) for name, (_, info) in servers.items()}
        for name in trees:  # warm-up: imports, first queries, connection
            for case in plan[name].values():
                per_request_us(clients[name], case, 50, procs[name])
        results: dict[str, dict[str, list[tuple[float, float]]]] = {n: {c: [] for c in plan[n]} for n in trees}
        for r in range(args.rounds):
            for case_name in plan["after"]:
                # Alternate which tree goes first, so neither always meets a warmer machine.
                for name in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
                    results[name][case_name].append(
                        per_request_us(clients[name], plan[name][case_name], args.requests, procs[name]))
    finally:
        for proc, _ in servers.values():
            proc.stdin.close()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    load = os.getloadavg()[0]
    print(f"{dt.date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.requests} sequential keep-alive requests x {args.rounds} interleaved rounds, median; "
          f"1-minute load average {load:.1f}")
    print()
    if "before" not in trees:
        print("| request | wall per request | server CPU per request |")
        print("|---|---|---|")
        for case_name, samples in results["after"].items():
            wall, cpu = (statistics.median(x[i] for x in samples) for i in (0, 1))
            print(f"| {case_name} | {wall:.0f} us | {cpu:.0f} us |")
        return
    print("| request | server CPU before | after | after / before | wall before | after | after / before |")
    print("|---|---|---|---|---|---|---|")
    for case_name, samples in results["after"].items():
        wall_a, cpu_a = (statistics.median(x[i] for x in samples) for i in (0, 1))
        wall_b, cpu_b = (statistics.median(x[i] for x in results["before"][case_name]) for i in (0, 1))
        print(f"| {case_name} | {cpu_b:.0f} us | {cpu_a:.0f} us | {cpu_a / cpu_b:.2f}x "
              f"| {wall_b:.0f} us | {wall_a:.0f} us | {wall_a / wall_b:.2f}x |")

if __name__ == "__main__":
    main()

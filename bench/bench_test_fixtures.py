"""What one test's fresh stores cost: the way the tests made them before, and the way they do now.

A test that asks for ``runtime`` gets a fresh SQLite control store and a fresh telemetry database in the
process's chdb engine, then a live server on it. Before, each control store ran every migration and each
telemetry database ran its DDL while the test waited, in a temp dir on disk. Now (``make_runtime`` in
``rexwatch.testing``, ``tests/conftest.py``) the control store is a copy of one migrated template, the
next telemetry database is prepared while the previous test runs, and pytest's temp dirs are on tmpfs.

Each way runs in its own process (chdb allows one engine per process); the two alternate round by round
so both meet the same load from the rest of the machine. Per store: wall time and CPU time of the
process (CPU is less sensitive to that load). Between two stores the process does what a test does
meanwhile, modelled as a bounded pause, so a database prepared ahead has the time a test gives it.
Usage: python bench/bench_test_fixtures.py [--rounds 5] [--stores 10] [--test-s 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil


def machine() -> str:
    return (
        f"{platform.machine()}, {psutil.cpu_count()} cores, {psutil.virtual_memory().total // 2**30} GiB, "
        f"Python {platform.python_version()}"
    )


def one_way(way: str, root: Path, stores: int, test_s: float) -> dict[str, float]:
    from rexwatch.stores.control import connect_control, upgrade
    from rexwatch.stores.telemetry.chdb import ChdbExecutor, engine_for
    from rexwatch.stores.telemetry.schema import apply
    from rexwatch.testing import make_runtime

    engine = engine_for(str(root / "chdb"))
    proc = psutil.Process()
    wall = cpu = 0.0
    for i in range(stores + 1):  # the first store of each way warms imports and templates: not counted
        t0, c0 = time.perf_counter(), sum(proc.cpu_times()[:2])
        data = root / f"data{i}"
        if way == "before":
            data.mkdir(parents=True)
            control = connect_control(f"sqlite:///{data / 'control.db'}")
            upgrade(control)
            telemetry = ChdbExecutor(engine, f"t_{uuid.uuid4().hex[:12]}")
            apply(telemetry)
        else:
            rt = make_runtime(data, engine, workers="none")
            control, telemetry = rt.control, rt.telemetry
        t1, c1 = time.perf_counter(), sum(proc.cpu_times()[:2])
        if i:
            wall += t1 - t0
            cpu += c1 - c0
        time.sleep(test_s)  # the test itself
        telemetry.drop_database()
        control.dispose()
    return {"wall_ms": wall / stores * 1000, "cpu_ms": cpu / stores * 1000}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--stores", type=int, default=10, help="stores per way and round")
    ap.add_argument("--test-s", type=float, default=0.5, help="seconds a test takes between two stores")
    ap.add_argument("--way", choices=["before", "now"], help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.way:
        print(json.dumps(one_way(args.way, Path(args.root), args.stores, args.test_s)))
        return

    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    results: dict[str, list[dict[str, float]]] = {"before": [], "now": []}
    for _ in range(args.rounds):
        for way, parent in (("before", None), ("now", shm)):
            root = Path(tempfile.mkdtemp(prefix="rexwatch-bench-fixtures-", dir=parent))
            try:
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--way",
                        way,
                        "--root",
                        str(root),
                        "--stores",
                        str(args.stores),
                        "--test-s",
                        str(args.test_s),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=600,
                    check=True,
                )
                results[way].append(json.loads(out.stdout.strip().splitlines()[-1]))
            finally:
                shutil.rmtree(root, ignore_errors=True)
    print(f"{machine()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{args.rounds} rounds x {args.stores} stores per way, {args.test_s} s per test between stores")
    med = {}
    for way, rows in results.items():
        walls = sorted(r["wall_ms"] for r in rows)
        cpus = sorted(r["cpu_ms"] for r in rows)
        med[way] = (walls[len(walls) // 2], cpus[len(cpus) // 2])
        print(
            f"{way:>6}: per store median wall {med[way][0]:.0f} ms (rounds {', '.join(f'{w:.0f}' for w in walls)}), "
            f"CPU {med[way][1]:.0f} ms"
        )
    print(
        f"ratio now/before: wall {med['now'][0] / med['before'][0]:.2f}, CPU {med['now'][1] / med['before'][1]:.2f}"
    )


if __name__ == "__main__":
    main()

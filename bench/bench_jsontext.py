"""The index-policy extractor (``rexwatch.lang.jsontext.extract_fields``) on typical JSON API events.

Compares, in one process and interleaved rounds:

- ``extract_fields``: what ingest runs for a group with an index policy (orjson, plus the check
  that no policy key repeats, else the exact first-wins reader);
- ``orjson alone``: the same paths read with orjson and nothing else, which keeps the LAST of
  duplicate keys (what ingest did before, and why it disagreed with ClickHouse);
- ``exact reader``: every message through ``parse_json`` (first wins), the slow path.

Usage: python bench/bench_jsontext.py [--events 100000] [--repeat 3] [--append bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import statistics
import time

import orjson
import psutil
import pyarrow as pa

from rexwatch.lang.jsontext import (
    MISSING,
    extract_fields,
    lookup,
    number_text,
    parse_json,
    path_steps,
    text_form,
)

PATHS = ("level", "status", "req.path", "duration")


def events(n: int) -> pa.Array:
    rng = random.Random(1)
    return pa.array([
        json.dumps({"ts": "2026-12-01T00:00:00Z", "level": rng.choice(["INFO", "INFO", "WARN", "ERROR"]),
                    "msg": "request handled" if i % 3 else "stack:\n  at handler (app.js:10)",
                    "req": {"method": "GET", "path": rng.choice(["/api/users", "/health"]), "id": f"r-{i}"},
                    "status": rng.choice([200, 404, 500]), "duration": round(rng.random() * 1000, 3),
                    "tenant": f"t-{i % 50}"})
        for i in range(n)
    ])


def orjson_alone(messages: pa.Array, paths: tuple[str, ...]) -> int:
    steps = [path_steps(p) for p in paths]
    n = 0
    for m in messages.to_pylist():
        doc = orjson.loads(m)
        for s in steps:
            value = lookup(doc, s)
            if isinstance(value, float):
                n += number_text(repr(value)) is not None
            elif value is not MISSING:
                n += text_form(str(value) if isinstance(value, int) else value) is not None
    return n


def exact(messages: pa.Array, paths: tuple[str, ...]) -> int:
    steps = [path_steps(p) for p in paths]
    n = 0
    for m in messages.to_pylist():
        _, doc = parse_json(m)
        n += sum(1 for s in steps if text_form(lookup(doc, s)) is not None)
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--append", help="append a results section to this markdown file")
    args = ap.parse_args()
    messages = events(args.events)
    runs = {
        "extract_fields (production)": lambda: len(extract_fields(messages, PATHS).keys),
        "orjson alone (last duplicate wins)": lambda: orjson_alone(messages, PATHS),
        "exact reader for every event": lambda: exact(messages, PATHS),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.repeat):
        for name, fn in runs.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    base = statistics.median(times["extract_fields (production)"])
    rows = [(name, statistics.median(t)) for name, t in times.items()]
    for name, t in rows:
        print(f"{name:<40} {t * 1e6 / args.events:7.2f} us/event  {t / base:5.2f}x")
    if args.append:
        load = psutil.getloadavg()[0]
        lines = ["", "## JSON fields for index policies (`bench/bench_jsontext.py`)", "",
                 f"{dt.date.today().isoformat()}, {platform.machine()}, {psutil.cpu_count()} cores, Python "
                 f"{platform.python_version()}; {args.events:,} JSON API events, paths {', '.join(PATHS)}; "
                 f"median of {args.repeat} interleaved rounds; 1-minute load average {load:.1f}.", "",
                 "| reader | per event | vs production |", "|---|---|---|"]
        lines += [f"| {name} | {t * 1e6 / args.events:.2f} us | {t / base:.2f}x |" for name, t in rows]
        with open(args.append, "a") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

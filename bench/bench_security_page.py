"""The console's security page over HTTP against a live in-process server holding a day of failed
logins and an application's audit log: the time to the whole HTML answer and its size.

Data: ``--logins`` failed-login lines over 24 h from 500 addresses and 2,000 users (one address
makes a tenth of them), ``--audit`` audit events over 24 h from 50 actors, the brute-force and
privilege-escalation rules applied and evaluated once (so the page has detections and blocks).

1. The whole page over the last day (detections, blocklist, two failure charts: four Insights
   queries, and the newest 200 audit events).
2. The same over 7 days (the charts' bins grow; the data is the same).
3. The audit timeline alone, filtered by actor (what htmx fetches when a filter changes).

Usage: python bench/bench_security_page.py [--logins 200000] [--audit 50000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from rexwatch.services.alarms import AlarmsService
from rexwatch.services.logs import LogsService
from rexwatch.services.logs.model import LogEventBatch
from rexwatch.services.security import templates

BATCH = 5_000


def put(logs: LogsService, group: str, docs: list[tuple[int, str]]) -> None:
    logs.create_log_group(group)
    logs.create_log_stream(group, "bench")
    docs.sort()
    for i in range(0, len(docs), BATCH):
        logs.put_log_events(group, "bench", LogEventBatch.of(docs[i:i + BATCH]))


def timed(client: httpx.Client, path: str, repeat: int, headers: dict | None = None) -> tuple[float, int]:
    r = client.get(path, headers=headers)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(path, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), len(r.content)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--logins", type=int, default=200_000)
    ap.add_argument("--audit", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    from rexwatch.stores.telemetry.chdb import engine_for
    from rexwatch.testing import LiveServer, make_runtime
    from rexwatch.workers.alarms import AlarmsWorker

    print(f"date: {dt.date.today()}  machine: {platform.machine()}, {psutil.cpu_count()} cores, "
          f"Python {platform.python_version()}  load: {psutil.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as d:
        rt = make_runtime(Path(d) / "data", engine_for(str(Path(d) / "chdb")), workers="none")
        logs = rt.service(LogsService)
        now = int(time.time() * 1000)
        day = 86_400_000
        logins = []
        for i in range(args.logins):
            ip = "203.0.113.7" if i % 10 == 0 else f"198.51.{(i * 7) % 500 // 250}.{(i * 7) % 250}"
            logins.append((now - day + i * day // args.logins, json.dumps(
                {"level": "warn", "msg": "failed login attempt", "user_id": f"u{(i * 13) % 2000}", "ip_address": ip})))
        t = time.perf_counter()
        put(logs, "/aws/ecs/utm-api", logins)
        actions = ("UPDATE", "DELETE", "CREATE")
        audit = [(now - day + i * day // args.audit, json.dumps(
            {"actor": f"user-{i % 50}", "action": actions[i % 3], "resource": "roles" if i % 100 == 0 else "tenants",
             "resource_id": str(i), "tenant_id": f"t-{i % 20}", "ip": "192.0.2.1", "at": "x"}))
            for i in range(args.audit)]
        put(logs, "/utm/audit", audit)
        print(f"loaded {args.logins:,} failed logins and {args.audit:,} audit events in "
              f"{time.perf_counter() - t:.1f} s")
        alarms = rt.service(AlarmsService)
        alarms.put_log_alarm(templates.render("brute-force", {"log_group": "/aws/ecs/utm-api", "block": "1h"}))
        alarms.put_log_alarm(templates.render("privilege-escalation", {"log_group": "/utm/audit"}))
        AlarmsWorker(rt).tick(float(math.ceil(time.time() / 300) * 300))
        rows = [
            ("whole page, last 1 d", "/security?since=1d", None),
            ("whole page, last 7 d", "/security?since=7d", None),
            ("audit timeline alone (htmx), actor filter, 1 d",
             "/security?since=1d&audit_group=%2Futm%2Faudit&actor=user-7", {"HX-Request": "true", "HX-Target": "audit"}),
        ]
        with LiveServer(rt, run_workers=False) as server, httpx.Client(base_url=server.url, timeout=120) as client:
            print(f"| security page ({args.logins:,} failed logins, {args.audit:,} audit events) | median time | HTML size |")
            print("|---|---|---|")
            for label, path, headers in rows:
                ms, size = timed(client, path, args.repeat, headers)
                print(f"| {label} | {ms:,.0f} ms | {size / 1024:,.0f} KiB |")
        rt.close(close_stores=False)


if __name__ == "__main__":
    main()

"""Fixed log events for Insights query -> result tests, in a table with the source contract's columns."""

from __future__ import annotations

import json

TABLE = "{db:Identifier}.insights_fixture"
SOURCE = f"SELECT ts, ingest_ts, seq, log_group, log_stream, message, fields FROM {TABLE}"

DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    ts DateTime64(3, 'UTC'), ingest_ts DateTime64(3, 'UTC'), seq UInt64,
    log_group String, log_stream String, message String,
    fields Map(LowCardinality(String), String)
) ENGINE = MergeTree ORDER BY (log_group, ts)
"""

BASE_MS = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC


def _api(i: int, method: str, path: str, status: int, duration: int, user: str, **extra) -> dict:
    return {"level": "ERROR" if status >= 500 else "INFO", "method": method, "path": path, "status": status,
            "duration": duration, "user_id": user, "request_id": f"req-{i:04d}", **extra}


# (offset ms from BASE_MS, group, stream, message)
EVENTS: list[tuple[int, str, str, str]] = []
_rows = [
    _api(1, "GET", "/api/tenants", 200, 120, "u1", ip_address="10.0.0.1"),
    _api(2, "POST", "/api/tenants", 201, 1500, "u2", ip_address="10.0.0.2"),
    _api(3, "GET", "/api/users", 200, 80, "u1", ip_address="10.0.0.1"),
    _api(4, "GET", "/api/users", 500, 2300, "u3", ip_address="192.168.1.7"),
    _api(5, "POST", "/api/invitations", 201, 999, "u2", ip_address="10.0.0.2"),
    _api(6, "GET", "/api/tenants", 200, 1001, "u4", ip_address="2001:db8::1"),
    {"action": "login", "success": False, "user_id": "u5", "ip_address": "203.0.113.9", "level": "WARN"},
    {"action": "login", "success": False, "user_id": "u5", "ip_address": "203.0.113.9", "level": "WARN"},
    {"action": "login", "success": True, "user_id": "u1", "ip_address": "10.0.0.1", "level": "INFO"},
    {"action": "login", "success": False, "user_id": "u6", "ip_address": "198.51.100.4", "level": "WARN"},
    {"level": "INFO", "path": "/api/users", "duration": 40, "tags": ["a", "b"],
     "user": {"id": "u7", "roles": [{"name": "admin"}]}},
]
for _k, _row in enumerate(_rows):
    EVENTS.append((_k * 60_000, "/aws/ecs/utm-api", f"api/{_k % 2}", json.dumps(_row)))
EVENTS += [
    (30_000, "/aws/ecs/utm-worker", "worker/1", "2026-01-01T00:00:30Z ERROR job 42 failed: timeout after 30s"),
    (90_000, "/aws/ecs/utm-worker", "worker/1", "2026-01-01T00:01:30Z INFO job 43 done in 12ms"),
    (150_000, "/aws/ecs/utm-worker", "worker/2", "2026-01-01T00:02:30Z ERROR job 44 failed: timeout after 31s"),
    (210_000, "/aws/ecs/utm-worker", "worker/2", "user=alice action=delete tenant=t-9 took=15ms"),
]

INDEXED = frozenset({"level"})


def load(executor) -> None:
    executor.execute(DDL)
    values = []
    for seq, (offset, group, stream, message) in enumerate(EVENTS):
        fields = {}
        try:
            doc = json.loads(message)
            if "level" in doc:
                fields["level"] = str(doc["level"])
        except ValueError:
            pass
        ts = (BASE_MS + offset) / 1000
        fmap = "{" + ", ".join(f"'{k}': '{v}'" for k, v in fields.items()) + "}"
        msg = message.replace("\\", "\\\\").replace("'", "\\'")
        values.append(f"(toDateTime64({ts}, 3, 'UTC'), toDateTime64({ts + 1}, 3, 'UTC'), {seq}, '{group}', "
                      f"'{stream}', '{msg}', {fmap})")
    executor.execute(f"INSERT INTO {TABLE} VALUES " + ", ".join(values))

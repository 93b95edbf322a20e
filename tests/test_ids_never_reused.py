"""Ids of control-store entities are never reused, and a deleted monitor's results never reach a new one."""

from __future__ import annotations

import sqlite3
import time

from sqlalchemy import Integer, text

from rexwatch.services.monitors import MonitorService
from rexwatch.stores.control import connect_control, upgrade
from rexwatch.stores.control.tables import metadata
from rexwatch.stores.telemetry.probes import ProbeResults


def test_every_integer_id_table_autoincrements(runtime):
    db = runtime.settings.data_dir / "control.db"
    con = sqlite3.connect(db)
    try:
        for table in metadata.sorted_tables:
            pk = list(table.primary_key.columns)
            if len(pk) == 1 and isinstance(pk[0].type, Integer) and not pk[0].foreign_keys:
                assert table.kwargs.get("sqlite_autoincrement") is True, table.name
                sql = con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table.name,)).fetchone()[0]
                assert "AUTOINCREMENT" in sql.upper(), table.name
    finally:
        con.close()


def test_a_new_monitor_never_inherits_a_deleted_ones_incidents(runtime, client):
    svc = runtime.service(MonitorService)
    keep = svc.create({"name": "UTM API", "url": "http://127.0.0.1:1/health", "interval": 60})
    old = svc.create({"name": "old", "url": "http://127.0.0.1:1/old", "interval": 60})
    now = time.time()
    results = ProbeResults(runtime.telemetry)
    results.insert([{"kind": "monitor", "check_id": old["id"], "ts": now - 3600 + i * 60, "status": 0, "ok": False,
                     "latency_ms": 1, "reason": "status", "error": "HTTP 500"} for i in range(10)])
    assert svc.history(old["id"])["incidents"]
    svc.delete(old["id"])
    new = svc.create({"name": "new", "url": "http://127.0.0.1:1/new", "interval": 60})
    assert new["id"] > old["id"] > keep["id"]
    assert results.history("monitor", str(old["id"]), now - 7200, now + 1) == []  # its results went with it
    assert client.post("/api/v1/status-pages", json={"slug": "utm", "monitors": [keep["id"], new["id"]]}
                       ).status_code == 201
    page = client.get("/status/utm.json").json()
    assert page["incidents"] == [] and page["status"] == "operational"
    assert svc.history(new["id"])["incidents"] == []


def test_old_sqlite_stores_are_rebuilt_with_their_rows(tmp_path):
    from alembic import command

    from rexwatch.stores.control.engine import alembic_config

    engine = connect_control(f"sqlite:///{tmp_path / 'control.db'}")
    cfg = alembic_config(engine)
    for rev in ("core_0001", "logs_0001", "insights_0001", "metric_filters_0002", "notify_0001", "alarms_0002",
                "monitors_0001"):
        command.upgrade(cfg, rev)  # the schema before ids were made permanent
    row = ("'{}'", "60", "10", "0", "0", "'[]'", "'2026-01-01'", "'2026-01-01'")
    with engine.begin() as conn:
        for name in ("a", "b", "c"):
            conn.execute(text("INSERT INTO monitors (name, type, config, interval_s, timeout_s, retries, paused, "
                              f"topic_arns, created_at, updated_at) VALUES ('{name}', 'http', {', '.join(row)})"))
        conn.execute(text("INSERT INTO monitor_state (monitor_id, status, fail_count, history, flapping) "
                          "VALUES (2, 'up', 0, '', 0)"))
        conn.execute(text("DELETE FROM monitors WHERE id = 3"))
    upgrade(engine)
    with engine.begin() as conn:
        # Rows and their children survive the rebuild (no cascade from dropping the old table).
        assert conn.execute(text("SELECT monitor_id, status FROM monitor_state")).all() == [(2, "up")]
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        conn.execute(text("INSERT INTO monitors (name, type, config, interval_s, timeout_s, retries, paused, "
                          f"topic_arns, created_at, updated_at) VALUES ('d', 'http', {', '.join(row)})"))
        conn.execute(text("DELETE FROM monitors WHERE name = 'd'"))
        conn.execute(text("INSERT INTO monitors (name, type, config, interval_s, timeout_s, retries, paused, "
                          f"topic_arns, created_at, updated_at) VALUES ('e', 'http', {', '.join(row)})"))
        assert conn.execute(text("SELECT id, name FROM monitors ORDER BY id")).all() == [(1, "a"), (2, "b"), (4, "e")]
    upgrade(engine)  # running again changes nothing
    engine.dispose()

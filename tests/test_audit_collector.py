"""The agent's audit collector: rows of a real PostgreSQL audit table -> a log group -> audit rules."""

from __future__ import annotations

import json
import math
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from helpers import away_from_slot_edges
from rexwatch.agent.config import ConfigError, parse
from rexwatch.agent.runner import Agent
from rexwatch.agent.sender import Outcome
from rexwatch.services.logs import LogsService
from rexwatch.services.notify import NotifyService
from rexwatch.testing import wait_until
from rexwatch.workers.alarms import AlarmsWorker
from test_agent import PG_DSN, agent_config


@pytest.fixture
def audit_table():
    name = f"audit_logs_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_DSN, autocommit=True) as c:
        c.execute(f"CREATE TABLE {name} (id bigserial PRIMARY KEY, actor text, action text, resource text, "
                  "resource_id text, tenant_id text, ip text, created_at timestamptz NOT NULL DEFAULT now())")
    yield name
    with psycopg.connect(PG_DSN, autocommit=True) as c:
        c.execute(f"DROP TABLE {name}")


def insert(table: str, rows: list[tuple[str, str, str]]) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as c:
        for actor, action, resource in rows:
            c.execute(f"INSERT INTO {table} (actor, action, resource, resource_id, tenant_id, ip) "
                      "VALUES (%s, %s, %s, '1', 't-1', '10.0.0.5')", (actor, action, resource))


def test_config_checks_the_audit_section(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"\[audit\] needs dsn"):
        parse('[audit]\ntable = "audit_logs"')
    with pytest.raises(ConfigError, match="plain SQL identifier"):
        parse('[audit]\ndsn = "postgresql://x"\ntable = "audit; drop table x"')


def test_new_rows_are_shipped_once_and_trigger_the_audit_rules(runtime, live, tmp_path, audit_table):
    api = httpx.Client(base_url=live.url + "/api/v1")
    topic = runtime.service(NotifyService).create_topic("security-alerts")
    for name in ("privilege-escalation", "mass-deletion"):
        assert api.post(f"/security/templates/{name}/apply", json={"params": {"topic": topic}}).status_code == 200
    # The alarms tick on the 5-minute slot ending next: its edge must not fall between these events and the tick.
    away_from_slot_edges(before_s=0, after_s=60)
    insert(audit_table, [("old", "UPDATE", "roles")])  # before the agent starts: not shipped
    cfg = parse(agent_config(tmp_path, live.url, f"""
[host]
enabled = false
[audit]
dsn = "{PG_DSN}"
table = "{audit_table}"
group = "/utm/audit"
"""))
    agent = Agent(cfg)
    try:
        agent.buffer_metrics(time.time())  # the first look only finds the table's end
        insert(audit_table, [("mallory", "UPDATE", "roles")] + [("eve", "DELETE", "users")] * 11)
        agent.buffer_metrics(time.time())
        assert agent.drain() is Outcome.SENT, agent.sender.last_error
        # A restarted agent resumes after the last row shipped.
        agent.close()
        agent = Agent(cfg)
        insert(audit_table, [("alice", "DELETE", "invitations")])
        agent.buffer_metrics(time.time())
        agent.buffer_metrics(time.time())
        assert agent.drain() is Outcome.SENT
    finally:
        agent.close()
    logs = runtime.service(LogsService)
    events = wait_until(lambda: (lambda e: e if len(e) >= 13 else None)(
        logs.filter_log_events(["/utm/audit"], limit=100).events), 60, what="the 13 shipped rows")
    docs = [json.loads(e.message) for e in events]
    assert sorted(d["actor"] for d in docs) == ["alice"] + ["eve"] * 11 + ["mallory"]
    assert all(d["at"].endswith("Z") and d["tenant_id"] == "t-1" for d in docs)

    slot = float(math.ceil(time.time() / 300) * 300)
    AlarmsWorker(runtime).tick(slot)
    esc = api.get("/log-alarms/privilege-escalation").json()
    dele = api.get("/log-alarms/mass-deletion").json()
    assert esc["state"] == "ALARM" and [k["key"] for k in esc["keys"]] == ["mallory"]
    assert dele["state"] == "ALARM" and [k["key"] for k in dele["keys"]] == ["eve"]

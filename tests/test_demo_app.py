"""The demo app (examples/demo_app) against a live server: its audit events, written with
``rexwatch.sdk.audit``, fire the privilege-escalation and mass-deletion templates, naming the
actors; its failed logins fire brute force, and the block it gets from rexwatch is enforced by
its own middleware."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from helpers import away_from_slot_edges
from rexwatch.services.alarms import AlarmsService
from rexwatch.services.logs import LogsService
from rexwatch.services.security import templates
from rexwatch.services.security.blocklist import BlocklistService
from rexwatch.testing import free_port, wait_until
from rexwatch.workers.alarms import AlarmsWorker

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo_app"
AUDIT = "/utm/audit"
LOGINS = "/app/utm-api"


@pytest.fixture
def demo(live):
    port = free_port()
    env = {**os.environ, "REXWATCH_ENDPOINT": live.url, "REXWATCH_FLUSH_INTERVAL": "0.2",
           "DEMO_BLOCKLIST_REFRESH_S": "0.2", "REXWATCH_SERVICE": "utm-api"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning"], cwd=DEMO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the demo app exited: {proc.stderr.read()}")
        try:
            return httpx.get(url + "/stats", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, deadline=120, what="the demo app")
    yield url
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stderr.close()


def stored(runtime, group: str, pattern: str | None = None) -> list[dict]:
    logs = runtime.service(LogsService)
    try:
        page = logs.filter_log_events([group], pattern=pattern, limit=1000)
    except Exception:  # the group does not exist until the first event arrives
        return []
    return [json.loads(e.message) for e in page.events]


def test_demo_app_audit_events_fire_the_audit_templates(runtime, live, demo):
    alarms = runtime.service(AlarmsService)
    for name in ("privilege-escalation", "mass-deletion"):
        alarms.put_log_alarm(templates.render(name, {"log_group": AUDIT}))

    # The alarms tick on the 5-minute slot ending next: its edge must not fall between these events and the tick.
    away_from_slot_edges(before_s=0, after_s=60)
    app = httpx.Client(base_url=demo)
    r = app.put("/tenants/t-1/users/7/role", json={"role": "admin"}, headers={"X-User": "mallory"})
    assert r.status_code == 200, r.text
    for i in range(1, 12):  # 11 deletions by eve: more than 10
        assert app.delete(f"/tenants/{i}", headers={"X-User": "eve"}).status_code == 200
    for i in range(12, 15):  # 3 by bob: under the threshold
        assert app.delete(f"/tenants/{i}", headers={"X-User": "bob"}).status_code == 200

    events = wait_until(lambda: (lambda e: e if len(e) == 15 else None)(stored(runtime, AUDIT)),
                        what="the demo app's 15 audit events")
    role = next(e for e in events if e["action"] == "UPDATE")
    assert {k: role[k] for k in ("actor", "action", "resource", "resource_id", "tenant_id", "ip")} == {
        "actor": "mallory", "action": "UPDATE", "resource": "roles", "resource_id": "7", "tenant_id": "t-1",
        "ip": "127.0.0.1"}
    assert role["details"] == {"role": "admin", "before": "viewer"} and role["at"].endswith("Z")
    assert "request_id" in role  # written inside the request: its id ties it to the access log

    AlarmsWorker(runtime).tick(float(math.ceil(time.time() / 300) * 300))
    esc, dele = alarms.get_log_alarm("privilege-escalation"), alarms.get_log_alarm("mass-deletion")
    assert esc.state_value == "ALARM" and "actor=mallory" in esc.state_reason, esc.state_reason
    assert dele.state_value == "ALARM" and "actor=eve (deletions=11)" in dele.state_reason, dele.state_reason
    assert [k.key for k in alarms.log_alarm_keys("mass-deletion")] == ["eve"]  # bob's 3 do not breach


def test_demo_app_failed_logins_get_it_blocked(runtime, live, demo):
    alarms = runtime.service(AlarmsService)
    alarms.put_log_alarm(templates.render("brute-force", {"log_group": LOGINS, "block": "1h"}))
    app = httpx.Client(base_url=demo)
    for i in range(6):
        r = app.post("/login", json={"user_id": str(i % 2), "password": "guess"})
        assert r.status_code == 401
    wait_until(lambda: len(stored(runtime, LOGINS, '"failed login attempt"')) == 6, what="6 failed logins stored")
    AlarmsWorker(runtime).tick(float(math.ceil(time.time() / 60) * 60))
    assert runtime.service(BlocklistService).check("127.0.0.1") is not None
    # The app's middleware polls the blocklist and answers 403 from then on.
    wait_until(lambda: app.post("/login", json={"user_id": "1", "password": "let-me-in-please"}).status_code == 403,
               what="the demo app to enforce the block")


def test_audit_event_shape_and_refusals():
    from rexwatch.sdk.auditing import audit_event

    e = audit_event("delete", "tenants", actor="eve", resource_id=3, tenant_id="t-2", ip="203.0.113.7",
                    actor_role="admin", details={"reason": "cleanup"}, at=0)
    assert e == {"actor": "eve", "action": "DELETE", "resource": "tenants", "resource_id": "3", "tenant_id": "t-2",
                 "ip": "203.0.113.7", "at": "1970-01-01T00:00:00.000Z", "actor_role": "admin",
                 "details": {"reason": "cleanup"}}
    with pytest.raises(ValueError, match="actor"):
        audit_event("DELETE", "tenants", actor="")
    assert audit_event("UPDATE", "roles", actor="x" * 5000)["actor"] == "x" * 1024  # bounded

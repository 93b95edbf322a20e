"""End to end through a live server: failed logins -> log alarm -> one alert by webhook and email,
the IP on the blocklist and its exports, the block lifting after its TTL; audit events -> the
escalation and deletion alerts; backtests finding the same detections."""

from __future__ import annotations

import json
import math
import time

import httpx
import pytest

from helpers import run_cli
from notify_helpers import Mailbox, Receiver, deliver_all
from rexwatch.services.logs import LogsService
from rexwatch.workers.alarms import AlarmsWorker
from rexwatch.workers.blocklist import BlocklistWorker

API_GROUP = "/aws/ecs/utm-api"
AUDIT_GROUP = "/utm/audit"


@pytest.fixture
def receivers(runtime):
    box, hook = Mailbox(), Receiver()
    runtime.settings.smtp_host, runtime.settings.smtp_port = "127.0.0.1", box.port
    yield box, hook
    box.close()
    hook.close()


def put_events(logs_client, group: str, events: list[tuple[int, dict]]) -> None:
    logs_client.put_log_events(
        logGroupName=group,
        logStreamName="app-1",
        logEvents=[{"timestamp": ts, "message": json.dumps(doc)} for ts, doc in sorted(events, key=lambda e: e[0])],
    )


def wait_stored(runtime, group: str, count: int, start_ms: int, end_ms: int) -> None:
    logs = runtime.service(LogsService)
    deadline = time.monotonic() + 60
    while logs.count_events(group, start_ms, end_ms, None) < count:
        assert time.monotonic() < deadline, "events not stored in time"
        time.sleep(0.02)


def security_topic(live, box, hook) -> str:
    sns = live.boto3_client("sns")
    arn = sns.create_topic(Name="security-alerts")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="security@yourdomain.com",
                  Attributes={"SkipConfirmation": "true"})
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=hook.url, Attributes={"SkipConfirmation": "true"})
    return arn


def test_brute_force_alerts_blocks_exports_and_lifts(runtime, live, receivers):
    box, hook = receivers
    topic = security_topic(live, box, hook)
    logs = live.boto3_client("logs")
    logs.create_log_group(logGroupName=API_GROUP)
    logs.create_log_stream(logGroupName=API_GROUP, logStreamName="app-1")
    api = httpx.Client(base_url=live.url + "/api/v1")

    # The office never gets blocked, even when it fails logins too.
    assert api.post("/allowlist", json={"ip": "192.0.2.0/24", "note": "office"}).status_code == 201
    r = api.post("/security/templates/brute-force/apply",
                 json={"params": {"log_group": API_GROUP, "topic": topic, "block": "2m"}})
    assert r.status_code == 200, r.text
    assert r.json()["config"]["group_by"] == ["ip_address"]

    slot = float(math.ceil(time.time() / 60) * 60)
    t0 = int(slot * 1000) - 120_000
    attacker, office, user = "203.0.113.7", "192.0.2.10", "198.51.100.2"
    events = [(t0 + i * 1000, {"level": "warn", "msg": "failed login attempt", "user_id": f"user-{i % 3}",
                               "ip_address": attacker}) for i in range(6)]
    events += [(t0 + 100 + i, {"level": "warn", "msg": "failed login attempt", "user_id": "ann",
                               "ip_address": office}) for i in range(8)]
    events += [(t0 + 200, {"level": "warn", "msg": "failed login attempt", "user_id": "bob",
                           "ip_address": user})]
    events += [(t0 + 300, {"level": "info", "msg": "login ok", "user_id": "bob", "ip_address": user})]
    put_events(logs, API_GROUP, events)
    wait_stored(runtime, API_GROUP, len(events), t0 - 1000, t0 + 60_000)

    worker = AlarmsWorker(runtime)
    worker.tick(slot)
    assert worker.last_report.transitions == 1, worker.last_report
    deliver_all(runtime)
    [post] = hook.wait_for(1)
    msg = json.loads(post.json["Message"])
    assert msg["AlarmName"] == "brute-force" and msg["NewStateValue"] == "ALARM"
    assert attacker in msg["NewStateReason"] and msg["AlarmType"] == "LogAlarm"
    rows = {r["ip_address"]: r for r in msg["OffendingRows"]}
    assert rows[attacker]["attempts"] == "6" and rows[office]["attempts"] == "8" and user not in rows
    [mail] = box.wait_for(1)
    assert mail["Subject"].startswith('ALARM: "brute-force"')
    text = "".join(part.get_payload(decode=True).decode() for part in mail.walk() if not part.is_multipart())
    assert f"ip_address={attacker}, attempts=6, users=3" in text  # the offending rows, one a line

    # The attacker is blocked, the allowlisted office is not; every export names exactly the attacker.
    entries = api.get("/blocklist").json()["entries"]
    assert [(e["ip"], e["alarm"]) for e in entries] == [(attacker, "brute-force")]
    assert api.get("/blocklist/check/203.0.113.7").json()["blocked"] is True
    assert api.get("/blocklist/check/192.0.2.10").json()["blocked"] is False
    assert api.get("/blocklist/export", params={"format": "plain"}).text == f"{attacker}\n"
    assert f"deny {attacker};" in api.get("/blocklist/export", params={"format": "nginx"}).text
    ipset = api.get("/blocklist/export", params={"format": "ipset"}).text
    assert f"add rexwatch-blocklist {attacker} timeout" in ipset
    feed = api.get("/blocklist/export", params={"format": "json"}).json()
    assert [e["cidr"] for e in feed["entries"]] == [attacker]
    cli = run_cli("--endpoint", live.url, "security", "export", "--format", "nginx")
    assert cli.returncode == 0 and f"deny {attacker};" in cli.stdout

    # The next minute sees the same attempts in its window: no second alert for the same IP.
    worker.tick(slot + 60)
    deliver_all(runtime)
    assert len(hook.requests) == 1 and len(box.messages) == 1

    # Acknowledge and history go through the ordinary alarm routes.
    assert api.post("/alarms/brute-force/ack", json={"by": "oncall"}).status_code == 200
    hist = [i["summary"] for i in api.get("/alarms/brute-force/history").json()["items"]]
    assert "Blocked 203.0.113.7 for 120 s" in hist
    assert any("192.0.2.10 is on the allowlist" in h for h in hist)

    # The shortened TTL passes: the expiry worker lifts the block.
    lifter = BlocklistWorker(runtime)
    lifter.tick(slot + 119)
    assert api.get("/blocklist/check/203.0.113.7").json()["blocked"] is True
    lifter.tick(slot + 121)
    assert lifter.lifted == 1
    assert api.get("/blocklist").json()["entries"] == []
    assert api.get("/blocklist/export", params={"format": "plain"}).text == ""

    # Every block and unblock is an event in the security log group.
    deadline = time.monotonic() + 60
    while True:
        got = logs.filter_log_events(logGroupName="/rexwatch/security")["events"]
        kinds = [(json.loads(e["message"])["event"], json.loads(e["message"])["ip"]) for e in got]
        if ("unblock", attacker) in kinds or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert ("block", attacker) in kinds and ("unblock", attacker) in kinds
    assert ("block_skipped", office) in kinds

    # The backtest over stored logs finds the same detection.
    bt = api.post("/log-alarms/brute-force/backtest",
                  params={"since": str(int(slot - 60)), "until": str(int(slot))}).json()
    assert {(t["key"], t["new"]) for t in bt["transitions"]} == {(attacker, "ALARM"), (office, "ALARM")}


def test_audit_rules_raise_escalation_and_deletion_alerts(runtime, live, receivers):
    box, hook = receivers
    topic = security_topic(live, box, hook)
    logs = live.boto3_client("logs")
    logs.create_log_group(logGroupName=AUDIT_GROUP)
    logs.create_log_stream(logGroupName=AUDIT_GROUP, logStreamName="app-1")
    api = httpx.Client(base_url=live.url + "/api/v1")
    for name in ("privilege-escalation", "mass-deletion"):
        r = api.post(f"/security/templates/{name}/apply", json={"params": {"topic": topic}})
        assert r.status_code == 200, r.text

    slot = float(math.ceil(time.time() / 300) * 300)
    t0 = int(slot * 1000) - 600_000

    def audit(i: int, actor: str, action: str, resource: str) -> tuple[int, dict]:
        return (t0 + i, {"actor": actor, "action": action, "resource": resource, "resource_id": str(i),
                         "tenant_id": "t-1", "ip": "10.0.0.5", "at": "2026-01-01T00:00:00Z"})

    events = [audit(0, "mallory", "UPDATE", "roles")]
    events += [audit(10 + i, "eve", "DELETE", "users") for i in range(11)]
    events += [audit(100 + i, "alice", "DELETE", "invitations") for i in range(3)]
    events += [audit(200, "alice", "UPDATE", "tenants")]
    put_events(logs, AUDIT_GROUP, events)
    wait_stored(runtime, AUDIT_GROUP, len(events), t0 - 1000, t0 + 60_000)

    AlarmsWorker(runtime).tick(slot)
    deliver_all(runtime)
    posts = hook.wait_for(2)
    by_alarm = {json.loads(p.json["Message"])["AlarmName"]: json.loads(p.json["Message"]) for p in posts}
    assert set(by_alarm) == {"privilege-escalation", "mass-deletion"}
    assert by_alarm["privilege-escalation"]["OffendingRows"] == [{"actor": "mallory", "changes": "1"}]
    assert by_alarm["mass-deletion"]["OffendingRows"] == [{"actor": "eve", "deletions": "11"}]
    assert len(box.wait_for(2)) == 2
    assert api.get("/blocklist").json()["entries"] == []  # audit rules only notify

    bt = api.post("/log-alarms/mass-deletion/backtest",
                  params={"since": str(int(slot - 300)), "until": str(int(slot))}).json()
    assert [(t["key"], t["new"]) for t in bt["transitions"]] == [("eve", "ALARM")]

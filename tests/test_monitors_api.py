"""REST for monitors, target groups, maintenance windows and status pages; public pages over real HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from rexwatch.services.monitors import MonitorService
from rexwatch.stores.telemetry.probes import ProbeResults


def _monitor(client, **kw):
    body = {"name": "api", "type": "http", "url": "http://127.0.0.1:1/health", "interval": "30s", **kw}
    r = client.post("/api/v1/monitors", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_monitor_crud(client):
    m = _monitor(client, timeout=5, retries=2, keyword="healthy", topics=["arn:aws:sns:us-east-1:000000000000:utm-alerts"])
    assert m["status"] == "pending" and m["interval"] == 30 and m["timeout"] == 5 and m["retries"] == 2
    assert m["config"]["keyword"] == "healthy" and m["config"]["expected_status"] == "200-299"
    assert m["target"] == "GET http://127.0.0.1:1/health"
    assert [x["name"] for x in client.get("/api/v1/monitors").json()] == ["api"]
    got = client.get("/api/v1/monitors/api").json()
    assert got["id"] == m["id"] and set(got["uptime"]) == {"24h", "7d", "30d", "90d"}
    r = client.patch(f"/api/v1/monitors/{m['id']}", json={"interval": "5m", "keyword": "up"})
    assert r.status_code == 200 and r.json()["interval"] == 300 and r.json()["config"]["keyword"] == "up"
    assert client.post("/api/v1/monitors/api/pause").json()["status"] == "paused"
    assert client.post("/api/v1/monitors/api/resume").json()["status"] == "pending"
    assert client.delete("/api/v1/monitors/api").status_code == 200
    r = client.get("/api/v1/monitors/api")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"name": "x", "type": "smtp"}, "type", "type must be one of"),
        ({"name": "x", "type": "http"}, "url", "need a url"),
        ({"name": "x", "url": "ftp://h/x"}, "url", "http:// or https://"),
        ({"name": "x", "url": "http://h/", "interval": 10, "timeout": 20}, "timeout", "not longer than"),
        ({"name": "x", "url": "http://h/", "expected_status": "2xx"}, "expected_status", "not a status code"),
        ({"name": "x", "url": "http://h/", "colour": "red"}, "colour", "unknown http monitor setting"),
        ({"name": "x", "url": "http://h/", "interval": "soon"}, "interval", "duration"),
        ({"name": "x", "url": "http://h/", "json_path": "a.b"}, "json_path", "json_path"),
        ({"name": "x", "type": "tcp", "host": "h", "port": 70000}, "port", "1-65535"),
        ({"name": "", "url": "http://h/"}, "name", "name"),
        ({"name": "x", "url": "http://h/", "retries": -1}, "retries", "retries"),
    ],
)
def test_bad_monitor_input_is_a_clear_400(client, body, field, words):
    r = client.post("/api/v1/monitors", json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["field"] == field and words in err["message"]


def test_non_object_body_and_duplicate_name(client):
    assert client.post("/api/v1/monitors", json=[1, 2]).status_code == 400
    _monitor(client)
    r = client.post("/api/v1/monitors", json={"name": "api", "url": "http://h/"})
    assert r.status_code == 409 and "already exists" in r.json()["error"]["message"]


def test_apply_is_idempotent_and_prunes(client):
    items = [
        {"name": "api", "url": "http://127.0.0.1:1/health", "interval": "5m"},
        {"name": "frontend", "url": "http://127.0.0.1:2/", "interval": 300, "keyword": "UTM"},
        {"name": "backup", "type": "push", "interval": "1h", "grace_s": 600},
    ]
    first = client.post("/api/v1/monitors/apply", json={"monitors": items}).json()
    assert sorted(first["created"]) == ["api", "backup", "frontend"]
    token = client.get("/api/v1/monitors/backup").json()["push_token"]
    again = client.post("/api/v1/monitors/apply", json={"monitors": items}).json()
    assert again == {"created": [], "updated": [], "unchanged": ["api", "frontend", "backup"], "deleted": []}
    assert client.get("/api/v1/monitors/backup").json()["push_token"] == token  # stable across applies
    items[0]["interval"] = "1m"
    third = client.post("/api/v1/monitors/apply", json={"monitors": items[:2], "prune": True}).json()
    assert third["updated"] == ["api"] and third["deleted"] == ["backup"]
    r = client.post("/api/v1/monitors/apply", json={"monitors": [items[0], items[0]]})
    assert r.status_code == 400 and "declared twice" in r.json()["error"]["message"]
    r = client.post("/api/v1/monitors/apply", json={"monitors": [{"name": "bad", "url": "nope"}]})
    assert r.status_code == 400 and "monitor #1 (bad)" in r.json()["error"]["message"]


def test_target_group_rest(client):
    body = {"name": "utm-api", "protocol": "HTTP", "port": 8080, "health_check_path": "/health",
            "matcher": "200", "health_check_interval": 30, "health_check_timeout": 5,
            "healthy_threshold": 2, "unhealthy_threshold": 3}
    g = client.post("/api/v1/target-groups", json=body).json()
    arn = g["TargetGroupArn"]
    assert arn.startswith("arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/utm-api/")
    assert g["MetricDimension"] == arn.split(":", 5)[-1] and g["Matcher"] == {"HttpCode": "200"}
    assert client.post("/api/v1/target-groups", json=body).json()["TargetGroupArn"] == arn  # idempotent
    r = client.post("/api/v1/target-groups", json={**body, "healthy_threshold": 4})
    assert r.status_code == 409
    assert client.get(f"/api/v1/target-groups/{arn}").json()["TargetGroupName"] == "utm-api"
    r = client.post("/api/v1/target-groups/register-targets",
                    json={"target_group": arn, "targets": [{"Id": "10.0.0.1"}, {"Id": "10.0.0.2", "Port": 9000}]})
    assert r.json() == {"registered": 2}
    health = client.post("/api/v1/target-groups/describe-target-health", json={"target_group": arn}).json()
    assert [(d["Target"], d["HealthCheckPort"], d["TargetHealth"]["State"]) for d in health["TargetHealthDescriptions"]] == [
        ({"Id": "10.0.0.1"}, "8080", "initial"), ({"Id": "10.0.0.2", "Port": 9000}, "9000", "initial")]
    assert health["TargetHealthDescriptions"][0]["TargetHealth"]["Reason"] == "Elb.RegistrationInProgress"
    client.post("/api/v1/target-groups/deregister-targets", json={"target_group": arn, "targets": [{"Id": "10.0.0.1"}]})
    left = client.post("/api/v1/target-groups/describe-target-health", json={"target_group": "utm-api"}).json()
    assert len(left["TargetHealthDescriptions"]) == 1
    for bad, field in [({**body, "name": "utm-api2", "matcher": "abc"}, "matcher"),
                       ({**body, "name": "utm-api2", "health_check_timeout": 30}, "health_check_timeout"),
                       ({**body, "name": "utm-api2", "healthy_threshold": 1}, "healthy_threshold"),
                       ({**body, "name": "bad name!"}, "name")]:
        r = client.post("/api/v1/target-groups", json=bad)
        assert r.status_code == 400 and r.json()["error"]["field"] == field, r.text
    r = client.post("/api/v1/target-groups/describe-target-health", json={"target_group": "nope"})
    assert r.status_code == 404
    r = client.post("/api/v1/target-groups/register-targets", json={"target_group": arn, "targets": [{"Port": 1}]})
    assert r.status_code == 400 and "Id" in r.json()["error"]["message"]
    assert client.delete(f"/api/v1/target-groups/{arn}").status_code == 204


def _seed(runtime, mid: int, now: float) -> None:
    """10 days of hourly results with one 2-hour outage 3 days ago, plus 100 checks in the last
    24 h of which 10 failed."""
    rows = []
    for h in range(10 * 24, 24, -1):
        ts = now - h * 3600
        down = 72 <= h < 74
        rows.append({"kind": "monitor", "check_id": mid, "ts": ts, "status": 0 if down else 1, "ok": not down,
                     "latency_ms": 20, "status_code": 503 if down else 200,
                     "error": "HTTP 503, expected 200-299" if down else "", "reason": "status" if down else "",
                     "excerpt": "API_TOKEN=internal-page-secret" if down else ""})
    for i in range(100):
        ts = now - 86_000 + i * 800
        down = 50 <= i < 60
        rows.append({"kind": "monitor", "check_id": mid, "ts": ts, "status": 0 if down else 1, "ok": not down,
                     "latency_ms": 20, "status_code": 0 if down else 200, "error": "timeout" if down else "",
                     "reason": "timeout" if down else ""})
    ProbeResults(runtime.telemetry).insert(rows)


def test_uptime_and_incidents_computed_from_stored_results(runtime):
    svc = runtime.service(MonitorService)
    m = svc.create({"name": "api", "url": "http://127.0.0.1:1/", "interval": 60})
    now = time.time()
    _seed(runtime, m["id"], now)
    up = ProbeResults(runtime.telemetry).uptime("monitor", [str(m["id"])], now)[str(m["id"])]
    assert up["24h"] == 90.0
    total, down = 216 + 100, 2 + 10
    assert up["7d"] == pytest.approx(100 * (6 * 24 - 2 + 90) / (6 * 24 + 100), abs=1e-3)
    assert up["30d"] == up["90d"] == pytest.approx(100 * (total - down) / total, abs=1e-3)
    incidents = svc.history(m["id"])["incidents"]
    assert len(incidents) == 2
    newest, older = incidents
    assert newest["cause"] == "timeout" and newest["checks"] == 10 and newest["duration_s"] == pytest.approx(8000, abs=1)
    assert older["cause"] == "HTTP 503, expected 200-299" and older["duration_s"] == pytest.approx(7200, abs=1)


def test_status_page_html_json_and_badge_over_http(runtime, live):
    svc = runtime.service(MonitorService)
    api = svc.create({"name": "UTM API", "url": "http://127.0.0.1:1/health", "interval": 60})
    front = svc.create({"name": "UTM frontend", "url": "http://127.0.0.1:1/", "interval": 60})
    hidden = svc.create({"name": "internal", "url": "http://127.0.0.1:1/x", "interval": 60})
    now = time.time()
    _seed(runtime, api["id"], now)
    svc.repo.save_monitor_states([{"monitor_id": api["id"], "status": "up"},
                                  {"monitor_id": front["id"], "status": "down"}])
    with httpx.Client(base_url=live.url) as http:
        r = http.post("/api/v1/status-pages", json={"slug": "utm", "title": "UTM status",
                                                    "monitors": ["UTM API", front["id"]]})
        assert r.status_code == 201, r.text
        assert http.post("/api/v1/status-pages", json={"slug": "Bad Slug"}).status_code == 400

        page = http.get("/status/utm")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assert "UTM status" in html and "UTM API" in html and "UTM frontend" in html and "internal" not in html
        assert "Partial outage" in html
        assert html.count('class="good"') + html.count('class="bad"') + html.count('class="warn"') >= 10
        assert html.count("<span class=") >= 180  # 90 day bars per monitor
        # The incident's kind of cause; never the error text or a response excerpt of the checked page.
        assert "unexpected response" in html and "timed out" in html
        assert "HTTP 503" not in html and "API_TOKEN" not in html

        data = http.get("/status/utm.json").json()
        assert data["status"] == "partial_outage"
        assert [m["name"] for m in data["monitors"]] == ["UTM API", "UTM frontend"]
        first = data["monitors"][0]
        assert first["uptime"]["24h"] == 90.0 and len(first["days"]) == 90
        today = datetime.fromtimestamp(now, UTC).date().isoformat()
        assert first["days"][-1]["date"] == today
        assert {i["monitor"] for i in data["incidents"]} == {"UTM API"} and len(data["incidents"]) == 2
        assert "HTTP 503" not in str(data) and "API_TOKEN" not in str(data)

        badge = http.get(f"/badge/{api['id']}.svg")
        assert badge.headers["content-type"] == "image/svg+xml" and ">up</text>" in badge.text
        assert "UTM API" in badge.text
        assert "90.00%" not in badge.text
        assert "%" in http.get(f"/badge/{api['id']}.svg?show=uptime").text
        assert http.get(f"/badge/{hidden['id']}.svg").status_code == 404  # not on any page: not public
        assert http.get("/status/nope").status_code == 404

        w = http.post("/api/v1/maintenance-windows", json={"name": "db upgrade", "duration": "1h",
                                                           "monitors": [front["id"]]})
        assert w.status_code == 201, w.text
        assert http.get("/status/utm.json").json()["status"] == "maintenance"
        assert http.get(f"/api/v1/monitors/{front['id']}").json()["status"] == "maintenance"
        assert http.post("/api/v1/maintenance-windows", json={"start": "2030-01-01T00:00:00Z",
                                                              "end": "2029-01-01T00:00:00Z"}).status_code == 400
        http.delete(f"/api/v1/maintenance-windows/{w.json()['id']}")
        assert http.get("/status/utm.json").json()["status"] == "partial_outage"


@pytest.mark.postgres
def test_monitor_store_on_postgresql(tmp_path, chdb_engine, pg_url):
    from rexwatch.services.monitors import TargetGroupService
    from rexwatch.testing import make_runtime

    rt = make_runtime(tmp_path / "pg", chdb_engine, control_url=pg_url, workers="none")
    try:
        svc = rt.service(MonitorService)
        m = svc.create({"name": "api", "url": "http://127.0.0.1:1/", "interval": 30, "topics": ["utm-alerts"]})
        assert svc.apply([{"name": "api", "url": "http://127.0.0.1:1/", "interval": 30,
                           "topics": ["utm-alerts"]}])["unchanged"] == ["api"]
        tgs = rt.service(TargetGroupService)
        g = tgs.create({"name": "utm-api", "port": 8080})
        tgs.register(g["TargetGroupArn"], [{"Id": "10.0.0.1"}, {"Id": "10.0.0.2"}])
        rows = svc.repo.list_targets()
        svc.repo.write_states([{"monitor_id": m["id"], "status": "down", "fail_count": 3}],
                              [{"target_row_id": r["id"], "state": "healthy", "reason": None} for r in rows])
        assert svc.get("api")["status"] == "down"
        states = {d["TargetHealth"]["State"] for d in tgs.describe_health("utm-api")["TargetHealthDescriptions"]}
        assert states == {"healthy"}
        svc.delete("api")
        tgs.delete("utm-api")
        assert svc.list() == [] and tgs.list() == []
    finally:
        rt.close(close_stores=False)
        rt.telemetry.drop_database()
        rt.control.dispose()


def test_target_group_overview_states_and_sparklines(runtime):
    """The console's list: each group's state from its targets, and its response times in one query."""
    from collections import Counter

    from rexwatch.services.monitors import TargetGroupService
    from rexwatch.services.monitors.target_groups import group_state

    assert group_state(True, Counter()) == "empty"
    assert group_state(False, Counter(healthy=2)) == "unused"
    assert group_state(True, Counter(healthy=2)) == "healthy"
    assert group_state(True, Counter(healthy=1, initial=1)) == "initial"
    assert group_state(True, Counter(healthy=1, unhealthy=1)) == "degraded"
    assert group_state(True, Counter(unhealthy=1, initial=1)) == "unhealthy"

    svc = runtime.service(TargetGroupService)
    svc.create({"name": "utm-api", "port": 8080})
    svc.create({"name": "utm-worker", "port": 9000})
    svc.register("utm-api", [{"Id": "10.0.0.1"}, {"Id": "10.0.0.2"}])
    gid = next(g["id"] for g in MonitorService(runtime).repo.list_target_groups() if g["name"] == "utm-api")
    now = time.time()
    ProbeResults(runtime.telemetry).insert([
        {"kind": "target", "check_id": str(gid), "target": "10.0.0.1:8080", "ts": now - 600, "status": 1, "ok": 1,
         "latency_ms": 20.0},
        {"kind": "target", "check_id": str(gid), "target": "10.0.0.2:8080", "ts": now - 600, "status": 1, "ok": 1,
         "latency_ms": 40.0},
        {"kind": "target", "check_id": str(gid), "target": "10.0.0.2:8080", "ts": now - 60, "status": 0, "ok": 0,
         "latency_ms": 5000.0},  # a failed check's time is not a response time
    ])
    got = {g["TargetGroupName"]: g for g in svc.overview(hours=1, points=6)}
    api, worker = got["utm-api"], got["utm-worker"]
    assert (api["State"], api["Targets"], api["TargetStates"]) == ("initial", 2, {"initial": 2})
    assert (worker["State"], worker["Targets"]) == ("empty", 0)
    assert [v for v in api["ResponseTimes"] if v is not None] == [30.0]
    assert worker["ResponseTimes"] == [None] * 6

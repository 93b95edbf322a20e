"""Monitor pages in headless Chromium against a live server and a real prober: create a monitor from
the form and see it go up, its response-time chart, uptime and checks, an incident when the target
fails, pause, resume and delete; form errors and hostile names."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from probe_servers import FlipServer, ProberThread, wait_for
from rexwatch.services.monitors import MonitorService

HOSTILE = 'api <img src=x onerror="document.body.dataset.pwned=1">'


@pytest.fixture
def flip():
    s = FlipServer()
    yield s
    s.close()


def _settle(runtime, done) -> None:
    """Leave the prober stopped at a moment ``done()`` holds. While it runs its checks keep coming, and
    under load any 0.2 s check can time out, so a page is read only when no check can change it."""
    for _ in range(5):
        if done():
            return
        with ProberThread(runtime):
            wait_for(done, 60)
    assert done(), "the state did not hold once the prober stopped"


def _checks(svc: MonitorService, mid: int) -> list[dict]:
    """The monitor's recorded checks, oldest first."""
    return list(reversed(svc.history(mid, since=0, limit=10_000)["results"]))


def _incidents(checks: list[dict]) -> list[str]:
    """The incidents the checks make, newest first, as their causes, by the rules written out: a run of
    down checks is one incident, caused by its first check (its error, else its reason, else its HTTP
    code). One check timed out under load is an incident of its own, so the page is compared with
    this and not with a fixed count."""
    causes, last = [], None
    for c in checks:
        if c["status"] == 3:  # maintenance: neither up nor down
            continue
        if c["status"] == 0 and last != 0:
            code = f"HTTP {c['status_code']}" if c["status_code"] else "check failed"
            cause = c["error"] or c["reason"] or code
            causes.append(" ".join(cause.split()))  # as a page shows the text
        last = c["status"]
    return causes[::-1]


def test_create_a_monitor_see_it_go_up_then_down_pause_resume_delete(page, live, runtime, flip):
    svc = runtime.service(MonitorService)
    page.goto(live.url + "/")
    page.get_by_role("link", name="Monitors", exact=True).click()
    assert "No monitors yet" in page.locator("main").inner_text()
    with ProberThread(runtime):
        page.locator("form.create-monitor").get_by_label("Name").fill(HOSTILE)
        page.locator("form.create-monitor").get_by_label("Type").select_option("http")
        page.locator("form.create-monitor").get_by_label("Target").fill(f"{flip.url}/health")
        page.locator("form.create-monitor").get_by_label("Every").fill("0.2")
        # The timeout equals the interval, so a loaded machine's slow answer is rarely a timeout.
        page.locator("form.create-monitor").get_by_label("Timeout").fill("0.2")
        page.get_by_role("button", name="Create monitor").click()
        assert page.locator("[role=status]").inner_text() == f"Created {HOSTILE}."
        assert page.locator("h1").inner_text().startswith(HOSTILE)
        mid = svc.list()[0]["id"]
        wait_for(lambda: svc.get(mid)["status"] == "up", 60)
        flip.mode = "failing"
        seen = len(_checks(svc, mid))
        # Down on a 503 answer (a check can also time out under load: that is down too, but not the cause).
        wait_for(lambda: svc.get(mid)["status"] == "down" and any(
            c["status"] == 0 and c["status_code"] == 503 for c in _checks(svc, mid)[seen:]), 60)
        flip.mode = "healthy"
        wait_for(lambda: svc.get(mid)["status"] == "up", 60)
    _settle(runtime, lambda: svc.get(mid)["status"] == "up")
    checks = _checks(svc, mid)
    # retries=0: every failed check is down, every passing one up.
    assert [c["status"] for c in checks] == [1 if c["ok"] else 0 for c in checks]
    causes = _incidents(checks)

    page.reload()
    assert page.locator("h1 .pill").inner_text() == "up"
    up24 = page.locator("#uptime-24h").inner_text()
    assert up24.endswith("%") and 0 < float(up24[:-1]) < 100
    incidents = page.locator("table.incidents tr:has(td)")
    expect(incidents).to_have_count(len(causes), timeout=60_000)
    assert [" ".join(t.split("\t")[-1].split()) for t in incidents.all_inner_texts()] == causes
    rows = page.locator("table.checks tr:has(td)").all_inner_texts()
    assert any("\tdown\t" in c and "503" in c for c in rows) and any("\tup\t" in c for c in rows)
    page.wait_for_selector("#monitor-chart[data-points] .u-over")
    data = json.loads(page.locator("#monitor-chart-data").text_content())
    assert len(data["x"]) >= 2 and all(v is None or v > 0 for v in data["series"][0]["values"])
    assert any(b["state"] == "ALARM" for b in data["bands"])  # the failed checks

    page.get_by_role("link", name="Monitors", exact=True).click()
    row = page.locator("table.monitors tr", has_text="http")
    assert row.locator(".pill").inner_text() == "up" and "%" in row.inner_text()
    expect(page.get_by_role("link", name=HOSTILE)).to_have_count(1, timeout=60_000)
    assert page.locator("main img").count() == 0
    page.get_by_role("link", name=HOSTILE).click()

    page.get_by_role("button", name="Pause").click()
    assert page.locator("[role=status]").inner_text() == "Paused."
    assert page.locator("h1 .pill").inner_text() == "paused"
    assert svc.get(mid)["paused"] is True
    page.get_by_role("button", name="Resume").click()
    assert page.locator("[role=status]").inner_text() == "Resumed."
    assert svc.get(mid)["paused"] is False

    page.get_by_label("I mean it").check()
    page.get_by_role("button", name="Delete monitor").click()
    assert page.locator("[role=status]").inner_text() == f"Deleted {HOSTILE}."
    assert svc.list() == []
    assert page.evaluate("document.body.dataset.pwned") is None


def test_form_errors_keep_what_was_typed(page, live):
    page.goto(live.url + "/monitors")
    page.locator("form.create-monitor").get_by_label("Name").fill("db port")
    page.locator("form.create-monitor").get_by_label("Type").select_option("tcp")
    page.locator("form.create-monitor").get_by_label("Target").fill("db.internal")
    page.get_by_role("button", name="Create monitor").click()
    assert "a tcp target is host:port" in page.locator("[role=alert]").inner_text()
    assert page.locator("form.create-monitor").get_by_label("Name").input_value() == "db port"
    assert page.locator("form.create-monitor").get_by_label("Type").input_value() == "tcp"
    page.locator("form.create-monitor").get_by_label("Type").select_option("http")
    page.locator("form.create-monitor").get_by_label("Target").fill("ftp://example.invalid/")
    page.get_by_role("button", name="Create monitor").click()
    assert "must be an absolute http:// or https:// URL" in page.locator("[role=alert]").inner_text()
    assert page.locator("[role=alert]").inner_text().startswith("Not created: ")


def test_forms_sent_without_a_monitor_or_group_are_explained(page, live, runtime):
    """A form whose hidden id or group name was lost or altered: a refusal comes back to the list
    with the message, a monitor or group that does not exist is a page that says so."""
    page.goto(live.url + "/monitors")
    csrf = page.locator("input[name=csrf]").first.input_value()
    html = {"accept": "text/html"}
    r = page.request.post(live.url + "/target-groups-action", form={"csrf": csrf, "action": "bogus", "name": ""},
                          headers=html)
    assert r.status == 200 and urlsplit(r.url).path == "/monitors"
    page.goto(r.url)
    alert = page.locator("[role=alert]").inner_text()
    assert alert.startswith("action must be one of") and not alert.startswith("Not created")
    r = page.request.post(live.url + "/monitors-action", form={"csrf": csrf, "action": "bogus", "id": "<b>x</b>"},
                          headers=html)
    assert r.status == 200 and urlsplit(r.url).path == "/monitors"
    for path, form in (("/monitors-action", {"action": "pause", "id": "../<b>x</b>"}),
                       ("/target-groups-action", {"action": "edit", "name": "<b>nope</b>"})):
        r = page.request.post(live.url + path, form={"csrf": csrf, **form}, headers=html)
        assert r.status == 404 and r.headers["content-type"].startswith("text/html")
        assert "does not exist" in r.text() and "<b>" not in r.text().split("<main", 1)[1]


def test_missing_monitor_and_csrf(live, runtime):
    svc = runtime.service(MonitorService)
    m = svc.create({"name": "site", "type": "http", "url": "https://example.invalid/"})
    assert httpx.get(live.url + "/monitors/999999", timeout=60).status_code == 404
    r = httpx.post(live.url + "/monitors-action", data={"action": "delete", "id": str(m["id"])})
    assert r.status_code == 403
    assert [x["name"] for x in svc.list()] == ["site"]
    page = httpx.get(live.url + f"/monitors/{m['id']}?since=nonsense", timeout=60)
    assert page.status_code == 200 and "time range not used" in page.text


def test_edit_a_monitor(page, live, runtime):
    svc = runtime.service(MonitorService)
    m = svc.create({"name": "site", "type": "http", "url": "https://example.invalid/health", "keyword": "ok"})
    t = svc.create({"name": "db", "type": "tcp", "host": "db.invalid", "port": 5432})
    page.goto(live.url + f"/monitors/{m['id']}")
    page.get_by_text("Edit", exact=True).click()
    assert page.get_by_label("Target").input_value() == "https://example.invalid/health"
    page.get_by_label("Name").fill("site <main>")
    page.get_by_label("Every").fill("5m")
    page.get_by_label("Keyword").fill("")
    page.get_by_role("button", name="Save").click()
    assert page.locator("[role=status]").inner_text() == "Saved."
    got = svc.get(m["id"])
    assert (got["name"], got["interval"], got["config"]["keyword"]) == ("site <main>", 300.0, None)
    assert page.locator("h1").inner_text().startswith("site <main>")

    page.goto(live.url + f"/monitors/{t['id']}")
    page.get_by_text("Edit", exact=True).click()
    assert page.get_by_label("Target").input_value() == "db.invalid:5432"
    page.get_by_label("Target").fill("db.invalid:6432")
    page.get_by_role("button", name="Save").click()
    assert svc.get(t["id"])["config"]["port"] == 6432
    page.get_by_text("Edit", exact=True).click()
    page.get_by_label("Timeout").fill("0")
    page.get_by_role("button", name="Save").click()
    assert "timeout must be positive" in page.locator("[role=alert]").inner_text()


def test_monitor_list_draws_a_response_time_sparkline(page, live, runtime):
    import time as _time

    svc = runtime.service(MonitorService)
    busy = svc.create({"name": "checked", "type": "push", "interval": 60})
    svc.create({"name": "never checked", "type": "push", "interval": 60})
    now = _time.time()
    rows = [{"kind": "monitor", "check_id": busy["id"], "ts": now - 3600 * 20 + i * 3600, "status": 1,
             "ok": True, "latency_ms": 10.0 * (i + 1)} for i in range(10)]
    rows.append({"kind": "monitor", "check_id": busy["id"], "ts": now - 60, "status": 0, "ok": False,
                 "latency_ms": 9999.0})  # a failed check's time is not a response time
    svc.record_results(rows)
    page.goto(live.url + "/monitors")
    spark = page.locator("tr", has_text="checked").filter(has_not_text="never").locator("svg.spark")
    assert spark.get_attribute("aria-label") == "response time of checked over 24 hours: 10 to 100 ms"
    assert len(spark.locator("polyline").get_attribute("points").split()) == 10
    assert page.locator("tr", has_text="never checked").locator("svg.spark").count() == 0
    assert "no data" in page.locator("tr", has_text="never checked").inner_text()


def test_target_group_create_see_health_edit_register_deregister_delete(page, live, runtime, flip):
    """A target group from the form against a real HTTP target: healthy, then unhealthy with an
    incident, its state and sparkline in the list, editing, (de)registering targets, deleting."""
    from rexwatch.services.monitors import TargetGroupService

    svc = runtime.service(TargetGroupService)

    def health() -> dict | None:
        got = svc.describe_health("utm-api")["TargetHealthDescriptions"]
        return got[0]["TargetHealth"] if got else None

    def state() -> str | None:
        return (health() or {}).get("State")

    page.goto(live.url + "/monitors")
    assert "No target groups" in page.locator("section.target-groups").inner_text()
    page.get_by_text("Create a target group").click()
    form = page.locator("form.create-target-group")
    form.get_by_label("Group name").fill("utm-api")
    form.get_by_label("Port").fill(str(flip.port))
    form.get_by_label("Health check path").fill("/health")
    form.get_by_label("Interval (s)").fill("0.2")
    form.get_by_label("Timeout (s)").fill("0.5")  # not below the interval: refused, the form kept
    form.get_by_label("Healthy after", exact=True).fill("2")
    form.get_by_label("Unhealthy after").fill("2")
    form.get_by_label("Targets").fill("127.0.0.1")
    form.get_by_role("button", name="Create target group").click()
    assert "health_check_timeout must be smaller than health_check_interval" in \
        page.locator("section.target-groups [role=alert]").inner_text()
    assert form.get_by_label("Group name").input_value() == "utm-api" and svc.list() == []
    with ProberThread(runtime):
        form.get_by_label("Timeout (s)").fill("0.15")
        form.get_by_role("button", name="Create target group").click()
        assert page.locator("[role=status]").inner_text() == "Created utm-api with 1 targets."
        assert page.locator("h1").inner_text().startswith("utm-api")
        wait_for(lambda: state() == "healthy", 60)
    # The pages are read with the prober stopped in the state they show (see _settle).
    _settle(runtime, lambda: state() == "healthy")
    page.reload()
    row = page.locator("table.tg-targets tr", has_text="127.0.0.1")
    assert row.locator(".pill").inner_text() == "healthy"
    page.wait_for_selector("#tg-chart[data-points] .u-over")
    data = json.loads(page.locator("#tg-chart-data").text_content())
    assert data["series"][0]["label"].startswith("127.0.0.1") and any(v for v in data["series"][0]["values"])

    page.get_by_role("link", name="Monitors", exact=True).click()
    listed = page.locator("table.target-groups tr", has_text="utm-api")
    assert listed.locator(".pill").inner_text() == "healthy" and "1 of 1 healthy" in listed.inner_text()
    assert listed.locator("svg.spark").get_attribute("aria-label").startswith("response time of utm-api")

    flip.mode = "failing"
    # Unhealthy, and the last check a 503 answer: under load a check can also time out, and the reason
    # shown is the last check's.
    _settle(runtime, lambda: health() == {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
                                          "Description": "Health checks failed with these codes: [503]"})
    listed.get_by_role("link", name="utm-api").click()
    row = page.locator("table.tg-targets tr", has_text="127.0.0.1")
    assert row.locator(".pill").inner_text() == "unhealthy" and "503" in row.inner_text()
    expect(page.locator("table.incidents tr:has(td)")).not_to_have_count(0, timeout=60_000)
    assert "fail" in page.locator("table.checks").inner_text()

    page.get_by_text("Edit", exact=True).click()
    page.get_by_label("Unhealthy after").fill("3")
    page.get_by_role("button", name="Save").click()
    assert page.locator("[role=status]").inner_text() == "Saved."
    assert svc.get("utm-api")["UnhealthyThresholdCount"] == 3
    page.get_by_text("Edit", exact=True).click()
    page.get_by_label("Unhealthy after").fill("11")
    page.get_by_role("button", name="Save").click()
    assert "unhealthy_threshold must be between 2 and 10" in page.locator("[role=alert]").inner_text()

    page.get_by_label("Register targets").fill("127.0.0.2:9 http://127.0.0.3/health")
    page.get_by_role("button", name="Register", exact=True).click()
    assert page.locator("[role=status]").inner_text() == "Registered 2 targets."
    # Counted once the new page is whole: the status line comes before the table in it.
    expect(page.locator("table.tg-targets tr:has(td)")).to_have_count(3, timeout=60_000)
    page.get_by_role("button", name="Deregister 127.0.0.2").click()
    expect(page.locator("table.tg-targets tr:has(td)")).to_have_count(2, timeout=60_000)
    ids = {h["Target"]["Id"] for h in svc.describe_health("utm-api")["TargetHealthDescriptions"]}
    assert ids == {"127.0.0.1", "http://127.0.0.3/health"}

    page.get_by_label("I mean it").check()
    page.get_by_role("button", name="Delete target group").click()
    assert page.locator("[role=status]").inner_text() == "Deleted utm-api."
    assert svc.list() == [] and "No target groups" in page.locator("section.target-groups").inner_text()
    assert httpx.get(live.url + "/monitors/target-groups/utm-api").status_code == 404


def test_target_group_topics_are_all_kept_and_edited(page, live, runtime):
    """Every topic of a group shows in the edit form and survives a save; the form edits the list."""
    from rexwatch.services.monitors import TargetGroupService

    svc = runtime.service(TargetGroupService)
    a, b, c = (f"arn:aws:sns:us-east-1:000000000000:utm-{x}" for x in ("alerts", "pager", "slack"))
    svc.create({"name": "utm-api", "topics": [a, b]})
    page.goto(live.url + "/monitors/target-groups/utm-api")
    assert f"notifies {a}, {b}" in page.locator("main").inner_text()
    page.get_by_text("Edit", exact=True).click()
    topics = page.get_by_label("Notify topics")
    assert topics.input_value() == f"{a} {b}"
    page.get_by_label("Unhealthy after").fill("3")  # a change elsewhere keeps both topics
    page.get_by_role("button", name="Save").click()
    assert page.locator("[role=status]").inner_text() == "Saved."
    assert svc.get("utm-api")["Topics"] == [a, b] and svc.get("utm-api")["UnhealthyThresholdCount"] == 3
    page.get_by_text("Edit", exact=True).click()
    topics.fill(f"{b}, {c}\t{b}")
    page.get_by_role("button", name="Save").click()
    assert svc.get("utm-api")["Topics"] == [b, c]
    page.get_by_text("Edit", exact=True).click()
    topics.fill("")
    page.get_by_role("button", name="Save").click()
    assert svc.get("utm-api")["Topics"] == [] and "notifies no topic" in page.locator("main").inner_text()

    # Created with several topics from the monitors page; too many are refused with the form kept.
    page.goto(live.url + "/monitors")
    page.get_by_text("Create a target group").click()
    form = page.locator("form.create-target-group")
    form.get_by_label("Group name").fill("utm-web")
    many = " ".join(f"{a}-{i}" for i in range(21))
    form.get_by_label("Notify topics").fill(many)
    form.get_by_role("button", name="Create target group").click()
    assert "at most 20 topic ARNs" in page.locator("section.target-groups [role=alert]").inner_text()
    assert form.get_by_label("Notify topics").input_value() == many
    form.get_by_label("Notify topics").fill(f"{a} {c}")
    form.get_by_role("button", name="Create target group").click()
    assert svc.get("utm-web")["Topics"] == [a, c]

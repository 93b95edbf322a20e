"""The security page in headless Chromium against a live server, on real data: failed logins that
a brute-force log alarm turned into a detection and a block, an application's audit log that the
privilege-escalation rule watches, and rexwatch's own audit trail.

An editor unblocks an address and sees the blocklist change (and the audit trail record it); a
viewer sees the blocklist without the forms, and a forged unblock from a viewer's session is refused.
"""

from __future__ import annotations

import json
import math
import time

import pytest
from playwright.sync_api import expect

from helpers import away_from_slot_edges
from rexwatch.services.alarms import AlarmsService
from rexwatch.services.audit import AuditService
from rexwatch.services.logs import LogsService
from rexwatch.services.logs.model import LogEventBatch
from rexwatch.services.security import templates
from rexwatch.services.security.blocklist import BlocklistService
from rexwatch.services.users import UserService
from rexwatch.testing import LiveServer, wait_until
from rexwatch.workers.alarms import AlarmsWorker

LOGINS = "/aws/ecs/utm-api"
APP_AUDIT = "/utm/audit"
ATTACKER, OTHER, MANUAL = "203.0.113.7", "198.51.100.4", "192.0.2.50"
PASSWORD = "correct horse battery"


def put(runtime, group: str, stream: str, docs: list[dict]) -> None:
    logs = runtime.service(LogsService)
    logs.create_log_group(group)
    logs.create_log_stream(group, stream)
    now = int(time.time() * 1000)
    batch = LogEventBatch.of([(now - 1000 * (len(docs) - i), json.dumps(d)) for i, d in enumerate(docs)])
    logs.put_log_events(group, stream, batch)


@pytest.fixture
def data(runtime):
    """Failed logins (6 from the attacker, 2 from another address), an application's audit
    events, the brute-force and privilege-escalation rules, and one tick of the alarms worker."""
    fails = [{"level": "warn", "msg": "failed login attempt", "user_id": f"u{i % 3}", "ip_address": ATTACKER}
             for i in range(6)]
    fails += [{"level": "warn", "msg": "failed login attempt", "user_id": "u9", "ip_address": OTHER}] * 2
    fails += [{"level": "info", "msg": "login ok", "user_id": "u5", "ip_address": "10.1.1.1"}]
    # The events reach 9 s into the past and the alarms tick on the 5-minute slot ending next: keep its
    # edge from falling between them (it split the attempts and the brute-force rule saw too few). The
    # slot is the one the events are written in, taken now: on a loaded machine the writes and rules
    # below can take seconds, and a slot read after them could be the next one, without the events.
    away_from_slot_edges(before_s=12, after_s=60)
    slot = float(math.ceil(time.time() / 300) * 300)
    put(runtime, LOGINS, "api-1", fails)
    audit = [{"actor": "mallory", "action": "UPDATE", "resource": "roles", "resource_id": "7", "tenant_id": "t-1",
              "ip": ATTACKER, "at": "now"}]
    audit += [{"actor": "eve", "action": "DELETE", "resource": "tenants", "resource_id": str(i), "tenant_id": "t-2",
               "ip": OTHER, "at": "now"} for i in range(3)]
    put(runtime, APP_AUDIT, "api-1", audit)

    alarms = runtime.service(AlarmsService)
    alarms.put_log_alarm(templates.render("brute-force", {"log_group": LOGINS, "block": "1h"}))
    alarms.put_log_alarm(templates.render("privilege-escalation", {"log_group": APP_AUDIT}))
    blocks = runtime.service(BlocklistService)
    blocks.block(MANUAL, ttl=3600, reason="scanner in the access log")
    blocks.allow("10.0.0.0/8", "office")

    worker = AlarmsWorker(runtime)
    worker.tick(slot)
    assert alarms.get_log_alarm("brute-force").state_value == "ALARM"
    assert alarms.get_log_alarm("privilege-escalation").state_value == "ALARM"
    assert {e.cidr for e in blocks.entries()} == {ATTACKER, MANUAL}
    return runtime


def test_detections_charts_unblock_and_timeline(page, live, data):
    runtime = data
    page.goto(live.url + "/")
    page.get_by_role("link", name="Security", exact=True).click()
    assert page.url.startswith(live.url + "/security")

    # Current detections: each firing key with its row.
    det = page.locator("table.detections")
    attacker_row = det.locator("tr", has_text=ATTACKER)
    assert "brute-force" in attacker_row.inner_text() and "attempts=6" in attacker_row.inner_text()
    assert "mallory" in det.locator("tr", has_text="privilege-escalation").inner_text()
    assert det.locator("tr", has_text=OTHER).count() == 0  # 2 failures do not breach
    assert "brute-force" in page.locator("table.recent").inner_text()

    # Top failing IPs and users: the charts are drawn, the totals are right.
    page.wait_for_selector("#chart-ips canvas")
    page.wait_for_selector("#chart-users canvas")
    ips = page.locator("table.top-ips tr:has(td)")
    assert ips.nth(0).inner_text().split() == [ATTACKER, "6"] and ips.nth(1).inner_text().split() == [OTHER, "2"]
    assert page.locator("#chart-ips").get_attribute("data-points") == str(
        len(json.loads(page.locator("#chart-ips-data").inner_text())["x"]))
    assert page.locator("table.top-users tr:has(td)").count() == 4  # u0, u1, u2 and u9; never "login ok"

    # The blocklist: the alarm's block and the manual one; the allowlist.
    bl = page.locator("table.blocklist")
    assert "brute-force" in bl.locator("tr", has_text=ATTACKER).inner_text()
    assert "scanner in the access log" in bl.locator("tr", has_text=MANUAL).inner_text()
    assert "office" in page.locator("table.allowlist").inner_text()

    # Unblock the attacker: the list changes, the block is gone for enforcers, and both the
    # security log group and the audit trail say so.
    page.get_by_role("button", name=f"Unblock {ATTACKER}").click()
    assert page.locator("[role=status]").inner_text() == f"{ATTACKER} unblocked."
    # Counted once the new page is whole: the status line comes before the table in it.
    expect(page.locator("table.blocklist tr", has_text=MANUAL)).to_have_count(1, timeout=60_000)
    assert page.locator("table.blocklist tr", has_text=ATTACKER).count() == 0
    blocks = runtime.service(BlocklistService)
    assert blocks.check(ATTACKER) is None and blocks.check(MANUAL) is not None
    audit = runtime.service(AuditService)
    trail = wait_until(lambda: [e for e in audit.recent(limit=50)
                                if e.get("resource") == "blocklist" and e.get("door") == "console"])
    assert trail[0]["action"] == "DELETE" and trail[0]["resource_id"] == ATTACKER and trail[0]["door"] == "console"
    events = runtime.service(LogsService).filter_log_events([blocks.group], pattern='{ $.event = "unblock" }')
    assert [json.loads(e.message)["ip"] for e in events.events] == [ATTACKER]

    # A manual block through the form, then its refusal for an allowlisted address.
    page.get_by_label("Block address").fill("198.51.100.0/24")
    page.get_by_label("For").fill("30m")
    page.get_by_role("button", name="Block", exact=True).click()
    expect(page.locator("table.blocklist tr", has_text="198.51.100.0/24")).to_have_count(1, timeout=60_000)
    page.get_by_label("Block address").fill("10.2.3.4")
    page.get_by_role("button", name="Block", exact=True).click()
    assert "allowlist" in page.locator("[role=alert]").inner_text()
    assert blocks.check("10.2.3.4") is None

    # The audit timeline: rexwatch's own trail by default (auth is off: everyone is admin) ...
    timeline = page.locator("table.timeline")
    assert "blocklist" in timeline.inner_text()
    # ... an application's audit log, filtered by actor; the filters live in the URL.
    page.get_by_label("Audit log").select_option(APP_AUDIT)
    page.get_by_label("Actor").fill("eve")
    charts_before = page.locator("#chart-ips canvas").element_handle()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**actor=eve**")  # htmx swaps the timeline alone and keeps the filters in the URL
    page.wait_for_function("document.querySelectorAll('table.timeline tbody tr').length === 3")
    rows = page.locator("table.timeline tbody tr")
    assert all("DELETE" in t for t in rows.all_inner_texts())
    assert "audit_group=%2Futm%2Faudit" in page.url
    assert charts_before.evaluate("c => c.isConnected")  # the rest of the page was not redrawn
    page.reload()
    assert page.locator("table.timeline tbody tr").count() == 3
    assert page.get_by_label("Actor").input_value() == "eve"
    page.get_by_label("Actor").fill("")
    page.get_by_label("Action").fill("UPDATE")
    page.get_by_label("Resource").fill("roles")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**resource=roles**")
    page.wait_for_function("document.querySelectorAll('table.timeline tbody tr').length === 1")
    assert page.locator("table.timeline tbody tr").all_inner_texts()[0].split()[2:4] == ["mallory", "UPDATE"]
    # A time range before the events shows none of them.
    page.goto(live.url + "/security?audit_group=%2Futm%2Faudit&start=2020-01-01T00:00:00Z&end=2020-01-02T00:00:00Z")
    assert "No audit events match" in page.locator("table.timeline").inner_text()


@pytest.fixture
def secured_live(data):
    data.settings.auth = "on"
    users = data.service(UserService)
    for name, role in (("root", "admin"), ("ed", "editor"), ("val", "viewer")):
        users.create(name, PASSWORD, role)
    with LiveServer(data, run_workers=False) as server:
        yield server


def sign_in(browser, url: str, username: str):
    context = browser.new_context()
    p = context.new_page()
    p.goto(url + "/login?next=/security")
    p.get_by_label("User name").fill(username)
    p.get_by_label("Password").fill(PASSWORD)
    p.get_by_role("button", name="Sign in").click()
    p.wait_for_url(url + "/security")
    return p


def test_viewer_cannot_unblock_editor_can(browser, secured_live, data):
    url = secured_live.url
    blocks = data.service(BlocklistService)
    viewer = sign_in(browser, url, "val")
    assert viewer.locator("table.blocklist tr", has_text=ATTACKER).count() == 1
    assert viewer.get_by_role("button", name=f"Unblock {ATTACKER}").count() == 0
    assert viewer.get_by_label("Block address").count() == 0
    assert "may look but not block" in viewer.locator("#read-only").inner_text()
    # A viewer sees an application's audit log, but not rexwatch's own trail.
    assert viewer.locator("table.timeline tbody tr").count() == 4
    viewer.goto(url + "/security?audit_group=%2Frexwatch%2Faudit")
    assert "admins only" in viewer.locator("#audit-note").inner_text()
    assert viewer.locator("table.timeline").count() == 0
    # A forged form from the viewer's session (with a valid CSRF token) is refused.
    csrf = next(c["value"] for c in viewer.context.cookies() if c["name"] == "rexwatch_csrf")
    r = viewer.request.post(url + "/security/blocklist", form={"csrf": csrf, "action": "unblock", "ip": ATTACKER})
    assert r.status == 403 and "role 'viewer'" in r.text()
    assert blocks.check(ATTACKER) is not None
    viewer.context.close()

    editor = sign_in(browser, url, "ed")
    editor.get_by_role("button", name=f"Unblock {ATTACKER}").click()
    assert editor.locator("[role=status]").inner_text() == f"{ATTACKER} unblocked."
    assert editor.locator("table.blocklist tr", has_text=ATTACKER).count() == 0
    assert blocks.check(ATTACKER) is None
    audit = data.service(AuditService)
    [event] = wait_until(lambda: [e for e in audit.recent(limit=100)
                                  if e.get("resource") == "blocklist" and e.get("action") == "DELETE"])
    assert event["actor"] == "user:ed" and event["action"] == "DELETE" and event["resource_id"] == ATTACKER
    events = data.service(LogsService).filter_log_events([blocks.group], pattern='{ $.event = "unblock" }')
    assert json.loads(events.events[0].message)["by"] == "user:ed"
    # An editor may not read rexwatch's own trail either.
    editor.goto(url + "/security?audit_group=%2Frexwatch%2Faudit")
    assert "admins only" in editor.locator("#audit-note").inner_text()
    editor.context.close()


def test_a_public_console_does_not_open_the_blocklist_forms(live, data):
    import httpx

    data.settings.auth = "on"
    data.settings.public = "ui,health"
    page = httpx.get(live.url + "/security", timeout=60)
    assert page.status_code == 200 and ATTACKER in page.text  # the console is open ...
    assert f'aria-label="Unblock {ATTACKER}"' not in page.text  # ... to look at
    csrf = page.cookies["rexwatch_csrf"]
    form = {"csrf": csrf, "action": "unblock", "ip": ATTACKER}
    r = httpx.post(live.url + "/security/blocklist", data=form, cookies={"rexwatch_csrf": csrf}, timeout=60)
    assert r.status_code == 401
    viewer = data.keys.create("v", role="viewer").token
    r = httpx.post(live.url + "/security/blocklist", data=form, cookies={"rexwatch_csrf": csrf},
                   headers={"Authorization": f"Bearer {viewer}"}, timeout=60)
    assert r.status_code == 403
    assert data.service(BlocklistService).check(ATTACKER) is not None
    assert httpx.get(live.url + "/users", timeout=60).status_code == 401  # users stay an admin's
    editor = data.keys.create("e", role="editor").token
    r = httpx.post(live.url + "/security/blocklist", data=form, cookies={"rexwatch_csrf": csrf},
                   headers={"Authorization": f"Bearer {editor}"}, timeout=60)
    assert r.status_code == 303 and data.service(BlocklistService).check(ATTACKER) is None


def test_alarm_blocks_and_expiry_are_in_the_audit_trail(data):
    audit = data.service(AuditService)
    [made] = wait_until(lambda: [e for e in audit.recent(limit=100) if e.get("resource") == "blocklist"])
    assert made["actor"] == "alarm:brute-force" and made["action"] == "CREATE" and made["resource_id"] == ATTACKER
    assert made["actor_role"] == "system" and made["details"]["alarm"] == "brute-force"
    blocks = data.service(BlocklistService)
    assert blocks.expire(now=time.time() + 7200) == 2
    lifted = wait_until(lambda: [e for e in audit.recent(limit=100) if e.get("action") == "DELETE"])
    assert {(e["actor"], e["resource_id"]) for e in lifted} == {("expiry", ATTACKER), ("expiry", MANUAL)}


def test_hostile_parameters_are_named_not_fatal(client, data):
    hostile = '<img src=x onerror="alert(1)">'
    r = client.get("/security", params={"ip_field": "ip) | stats count() by x", "user_field": "user_id",
                                        "message": hostile, "login_group": LOGINS, "audit_group": hostile,
                                        "actor": 'a" || $.x = "1', "start": "not a time"})
    assert r.status_code == 200
    assert "top failing ips: field must be a field name" in r.text
    assert "time range not used" in r.text
    assert hostile not in r.text and "&lt;img src=x" in r.text
    r = client.get("/security", params={"audit_group": APP_AUDIT, "actor": 'mallory" }', "action": "x\ny"})
    assert r.status_code == 200 and "action must be one line" in r.text
    # A quote in a filter value is matched literally, never as pattern syntax.
    r = client.get("/security", params={"audit_group": APP_AUDIT, "actor": 'eve" || $.actor = "mallory'})
    assert r.status_code == 200 and "No audit events match" in r.text
    r = client.post("/security/blocklist", data={"csrf": "x", "action": "unblock", "ip": ATTACKER})
    assert r.status_code == 403 and "CSRF" in r.text

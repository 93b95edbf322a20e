"""The users page in headless Chromium against a live server with auth on: an admin creates a user
(with a random password shown once), changes a role, resets a password, logs a user out
everywhere, disables and enables an account; each change lands in the audit trail, and making a
viewer an admin fires the privilege-escalation rule on rexwatch's own trail. Others may not enter.
"""

from __future__ import annotations

import math
import time

import pytest

from helpers import away_from_slot_edges
from rexwatch.errors import Unauthorized
from rexwatch.services.alarms import AlarmsService
from rexwatch.services.audit import AuditService
from rexwatch.services.security import templates
from rexwatch.services.users import UserService
from rexwatch.testing import LiveServer, wait_until
from rexwatch.workers.alarms import AlarmsWorker

PASSWORD = "correct horse battery"


@pytest.fixture
def secured_live(runtime):
    runtime.settings.auth = "on"
    users = runtime.service(UserService)
    for name, role in (("root", "admin"), ("ed", "editor"), ("val", "viewer")):
        users.create(name, PASSWORD, role)
    with LiveServer(runtime, run_workers=False) as server:
        yield server


def sign_in(browser, url: str, username: str, password: str = PASSWORD, landing: str = "/alarms"):
    context = browser.new_context()
    p = context.new_page()
    p.goto(url + "/login?next=" + landing)
    p.get_by_label("User name").fill(username)
    p.get_by_label("Password").fill(password)
    p.get_by_role("button", name="Sign in").click()
    p.wait_for_url(url + landing)
    return p


def signed_out(p, url: str) -> bool:
    p.goto(url + "/alarms")
    return "/login" in p.url


def trail(runtime, **match) -> list[dict]:
    audit = runtime.service(AuditService)
    return wait_until(lambda: [e for e in audit.recent(limit=500) if all(e.get(k) == v for k, v in match.items())])


def test_admin_manages_users_and_the_trail_records_it(browser, secured_live, runtime):
    url = secured_live.url
    users = runtime.service(UserService)
    alarms = runtime.service(AlarmsService)
    alarms.put_log_alarm(templates.render("privilege-escalation", {"log_group": runtime.settings.audit_log_group}))
    val = sign_in(browser, url, "val")
    ed = sign_in(browser, url, "ed")

    admin = sign_in(browser, url, "root")
    admin.get_by_role("link", name="Users", exact=True).click()
    admin.wait_for_url(url + "/users")
    rows = admin.locator("table.users tbody tr")
    assert rows.count() == 3
    assert admin.locator("tr[data-user=val] td.sessions").inner_text() == "1"
    assert "(you)" in admin.locator("tr[data-user=root]").inner_text()

    # Create a user with no password given: a random one is shown once, and it works.
    admin.get_by_label("User name").fill("newbie")
    admin.locator("form:has(input[value=create]) select[name=role]").select_option("editor")
    admin.get_by_role("button", name="Create user").click()
    assert admin.locator("[role=status].done").inner_text() == "User newbie created as editor."
    issued = admin.locator("#new-password").inner_text().strip()
    assert len(issued) >= 16 and users.login("newbie", issued)[0].role == "editor"
    [created] = trail(runtime, action="CREATE", resource="users", resource_id="newbie")
    assert created["actor"] == "user:root" and created["door"] == "console" and created["details"] == {"role": "editor"}
    admin.goto(url + "/users")
    assert admin.locator("#new-password").count() == 0 and issued not in admin.content()  # shown once

    # The alarms tick on the 5-minute slot ending next: its edge must not fall between these events and the tick.
    away_from_slot_edges(before_s=0, after_s=60)
    # A viewer made admin: the change is an UPDATE of roles, their sessions end, and the
    # privilege-escalation rule fires on rexwatch's own audit trail.
    admin.get_by_label("Role of val", exact=True).select_option("admin")
    admin.get_by_role("button", name="Change role of val").click()
    assert admin.locator("[role=status]").inner_text() == "val is now admin (their sessions ended)."
    assert users.get("val").role == "admin"
    [esc] = trail(runtime, action="UPDATE", resource="roles", resource_id="val")
    assert esc["before"] == {"role": "viewer"} and esc["after"] == {"role": "admin"} and esc["actor"] == "user:root"
    assert signed_out(val, url)
    AlarmsWorker(runtime).tick(float(math.ceil(time.time() / 300) * 300))
    alarm = alarms.get_log_alarm("privilege-escalation")
    assert alarm.state_value == "ALARM" and "root" in alarm.state_reason, alarm.state_reason

    # Reset ed's password: a new one shown once, the old one dead, ed signed out.
    admin.get_by_role("button", name="Reset password ed").click()
    new_password = admin.locator("#new-password").inner_text().strip()
    assert "password was reset" in admin.locator("[role=status].done").inner_text()
    with pytest.raises(Unauthorized):
        users.login("ed", PASSWORD)
    assert users.login("ed", new_password)[0].username == "ed"
    assert signed_out(ed, url)
    assert trail(runtime, action="UPDATE", resource="users", resource_id="ed")[0]["details"] == {
        "change": "password reset", "sessions": "ended"}

    # Log out everywhere: every session of ed ends.
    ed = sign_in(browser, url, "ed", new_password)
    admin.goto(url + "/users")
    assert admin.locator("tr[data-user=ed] td.sessions").inner_text() == "2"  # the browser's and login() above
    admin.get_by_role("button", name="Log out everywhere ed").click()
    assert admin.locator("[role=status]").inner_text() == "ed was logged out everywhere (2 sessions ended)."
    assert admin.locator("tr[data-user=ed] td.sessions").inner_text() == "0"
    assert signed_out(ed, url)
    assert trail(runtime, action="LOGOUT", resource="sessions", resource_id="ed")[0]["details"] == {
        "sessions_ended": 2}

    # Disable: no login, no session, keys revoked; enable: logins work again.
    key = runtime.keys.create("newbie-ci", role="editor", user_id=users.get("newbie").id)
    assert runtime.keys.verify_bearer(key.token) is not None
    newbie = sign_in(browser, url, "newbie", issued)
    admin.get_by_role("button", name="Disable newbie").click()
    assert admin.locator("tr[data-user=newbie] td.state").inner_text() == "disabled"
    assert signed_out(newbie, url)
    with pytest.raises(Unauthorized, match="disabled"):
        users.login("newbie", issued)
    assert runtime.keys.verify_bearer(key.token) is None
    admin.get_by_role("button", name="Enable newbie").click()
    assert admin.locator("tr[data-user=newbie] td.state").inner_text() == "active"
    assert users.login("newbie", issued)[0].username == "newbie"
    toggles = trail(runtime, action="UPDATE", resource="users", resource_id="newbie")
    assert [e["after"] for e in reversed(toggles)] == [{"disabled": True}, {"disabled": False}]

    # The audit page filters the trail; the filters stay in the URL.
    admin.goto(url + "/audit?since=1h")
    admin.get_by_label("Action").fill("UPDATE")
    admin.get_by_label("Resource").fill("roles")
    admin.get_by_role("button", name="Filter").click()
    admin.wait_for_url("**resource=roles**")
    rows = admin.locator("main table tbody tr").all_inner_texts()
    assert len(rows) == 1 and "user:root" in rows[0] and '{"role": "admin"}' in rows[0]
    admin.goto(url + "/audit?since=1h&actor=user:*&action=CREATE")
    assert [r.split()[3] for r in admin.locator("main table tbody tr").all_inner_texts()] == ["users"]
    admin.goto(url + "/users")

    # The last admin is protected; the page says why.
    admin.get_by_label("Role of val", exact=True).select_option("viewer")
    admin.get_by_role("button", name="Change role of val").click()
    admin.get_by_label("Role of root", exact=True).select_option("viewer")
    admin.get_by_role("button", name="Change role of root").click()
    assert "only admin" in admin.locator("[role=alert]").inner_text()
    assert users.get("root").role == "admin"

    # Editors and viewers may not enter, nor post its forms.
    editor = sign_in(browser, url, "newbie", issued)
    r = editor.request.get(url + "/users")
    assert r.status == 403 and "role 'editor'" in r.text()
    csrf = next(c["value"] for c in editor.context.cookies() if c["name"] == "rexwatch_csrf")
    r = editor.request.post(url + "/users/action", form={"csrf": csrf, "action": "role", "username": "newbie",
                                                          "role": "admin"})
    assert r.status == 403 and users.get("newbie").role == "editor"
    for p in (val, ed, admin, newbie, editor):
        p.context.close()


def test_disable_and_enable_over_rest(runtime):
    from fastapi.testclient import TestClient

    from rexwatch.api.app import create_app

    runtime.settings.auth = "on"
    users = runtime.service(UserService)
    users.create("root", PASSWORD, "admin")
    users.create("val", PASSWORD, "viewer")
    admin = {"Authorization": "Bearer " + runtime.keys.create("root-key", role="admin",
                                                             user_id=users.get("root").id).token}
    val_key = runtime.keys.create("val-key", role="viewer", user_id=users.get("val").id).token
    with TestClient(create_app(runtime, run_workers=False), raise_server_exceptions=False) as c:
        assert c.get("/api/v1/alarms", headers={"Authorization": f"Bearer {val_key}"}).status_code == 200
        r = c.post("/api/v1/users/val/disable", headers=admin)
        assert r.status_code == 200 and r.json()["disabled"] is True
        assert c.get("/api/v1/alarms", headers={"Authorization": f"Bearer {val_key}"}).status_code == 401
        assert [u["disabled"] for u in c.get("/api/v1/users", headers=admin).json()["users"]] == [False, True]
        r = c.post("/api/v1/users/root/disable", headers=admin)
        assert r.status_code == 409 and "only admin" in r.text  # the last active admin stays
        assert c.post("/api/v1/users/val/enable", headers=admin).json()["disabled"] is False
        assert users.login("val", PASSWORD)[0].username == "val"
        assert c.post("/api/v1/users/nobody/disable", headers=admin).status_code == 404
    events = trail(runtime, resource="users", resource_id="val", door="rest")
    assert [e["after"] for e in reversed(events)] == [{"disabled": True}, {"disabled": False}]

"""Users, console sessions, the failed-login limit and the audit trail they leave."""

from __future__ import annotations

import json
import math
import re
import time

import pytest
from fastapi.testclient import TestClient

from helpers import away_from_slot_edges, run_cli
from rexwatch.api.app import create_app
from rexwatch.errors import AlreadyExists
from rexwatch.services.audit import AuditService
from rexwatch.services.logs import LogsService
from rexwatch.services.users import UserService
from rexwatch.workers.alarms import AlarmsWorker

PASSWORD = "correct horse battery"


@pytest.fixture
def secured(runtime):
    runtime.settings.auth = "on"
    with TestClient(create_app(runtime, run_workers=False), raise_server_exceptions=False) as c:
        yield c


def csrf_of(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD):
    token = csrf_of(client, "/login")
    return client.post("/login", data={"csrf": token, "username": username, "password": password, "next": "/alarms"},
                       follow_redirects=False)


def audit_events(runtime, count: int, **match) -> list[dict]:
    """Poll the audit log group until ``count`` events with these fields are stored."""
    svc = runtime.service(AuditService)
    deadline = time.monotonic() + 60
    while True:
        found = [e for e in svc.recent(limit=1000) if all(e.get(k) == v for k, v in match.items())]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, (match, svc.recent(limit=20))
        time.sleep(0.05)


def test_users_cli_create_list_set_role_reset_delete(tmp_path):
    d = str(tmp_path / "data")
    r = run_cli("--output", "json", "users", "create", "ann", "--admin", "--password-stdin", "--data-dir", d,
                input=PASSWORD + "\n")
    assert r.returncode == 0 and json.loads(r.stdout)["role"] == "admin", r.stderr
    r = run_cli("users", "create", "bob", "--role", "editor", "--password-stdin", "--data-dir", d, input="short\n")
    assert r.returncode == 1 and "password must be 10-1024 characters" in r.stderr
    assert run_cli("users", "create", "bob", "--role", "editor", "--password-stdin", "--data-dir", d,
                   input=PASSWORD + "\n").returncode == 0
    listed = json.loads(run_cli("--output", "json", "users", "list", "--data-dir", d).stdout)
    assert [(u["username"], u["role"]) for u in listed] == [("ann", "admin"), ("bob", "editor")]
    assert PASSWORD not in json.dumps(listed)
    r = run_cli("users", "set-role", "bob", "viewer", "--data-dir", d)
    assert r.returncode == 0 and "bob: editor -> viewer" in r.stdout
    # The last admin cannot step down or be deleted: the server would have nobody to manage it.
    r = run_cli("users", "set-role", "ann", "editor", "--data-dir", d)
    assert r.returncode == 1 and "only admin" in r.stderr
    r = run_cli("users", "reset-password", "bob", "--password-stdin", "--data-dir", d, input="another long one\n")
    assert r.returncode == 0 and "reset" in r.stdout
    assert run_cli("users", "delete", "bob", "--data-dir", d).returncode == 0
    r = run_cli("users", "delete", "bob", "--data-dir", d)
    assert r.returncode == 1 and "no user named 'bob'" in r.stderr


def test_first_visit_setup_needs_the_token_then_closes(runtime, secured):
    # No user yet: the console answers 401 but setup and login are reachable.
    assert secured.get("/alarms").status_code == 401
    assert secured.get("/login", follow_redirects=False).headers["location"] == "/setup"
    token = csrf_of(secured, "/setup")
    form = {"csrf": token, "username": "root", "password": PASSWORD, "password2": PASSWORD}
    r = secured.post("/setup", data={**form, "token": "guess"})
    assert r.status_code == 403 and "setup token is wrong" in r.text
    users = runtime.service(UserService)
    r = secured.post("/setup", data={**form, "token": users.setup_token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert [(u.username, u.role) for u in users.list()] == [("root", "admin")]
    # Once a user exists, setup is closed for good.
    assert secured.get("/setup", follow_redirects=False).headers["location"] == "/login"
    assert secured.post("/setup", data={**form, "username": "evil", "token": users.setup_token}).status_code == 403


def test_login_session_cookie_expiry_and_logout(runtime, secured):
    users = runtime.service(UserService)
    users.create("ann", PASSWORD, "editor")
    r = sign_in(secured, "ann")
    assert r.status_code == 303 and r.headers["location"] == "/alarms"
    cookie = r.headers["set-cookie"]
    assert "rexwatch_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over TLS the cookie is Secure
    page = secured.get("/alarms")
    assert page.status_code == 200 and "ann (editor)" in page.text
    # A browser without a session is sent to the login page, and back afterwards.
    r = TestClient(secured.app).get("/alarms?since=1h", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Falarms%3Fsince%3D1h"
    # The session also opens the REST API, with the user's role.
    assert secured.get("/api/v1/alarms").status_code == 200
    assert secured.get("/api/v1/users").status_code == 403

    # Idle expiry: a session unused for longer than session_idle_minutes is gone.
    real = users.clock
    users.clock = lambda: real() + runtime.settings.session_idle_minutes * 60 + 5
    assert secured.get("/alarms").status_code == 401
    users.clock = real
    sign_in(secured, "ann")
    # Absolute expiry, however busy the session is (idle expiry out of the way here).
    runtime.settings.session_idle_minutes = 60 * 24 * 30
    users.clock = lambda: real() + runtime.settings.session_max_hours * 3600 - 60
    assert secured.get("/alarms").status_code == 200
    users.clock = lambda: real() + runtime.settings.session_max_hours * 3600 + 5
    assert secured.get("/alarms").status_code == 401
    users.clock = real

    # Log out ends this session; "everywhere" ends the others too.
    sign_in(secured, "ann")
    other = TestClient(secured.app)
    assert sign_in(other, "ann").status_code == 303
    assert users.repo.count_sessions(users.get("ann").id) == 2
    token = csrf_of(secured, "/logout")
    assert secured.post("/logout", data={"csrf": token, "everywhere": "1"}, follow_redirects=False).status_code == 303
    assert users.repo.count_sessions(users.get("ann").id) == 0
    assert other.get("/alarms").status_code == 401


def test_failed_logins_lock_out_and_fire_the_brute_force_rule(runtime, secured):
    users = runtime.service(UserService)
    users.create("ann", PASSWORD, "admin")
    admin = {"Authorization": f"Bearer {runtime.keys.create('ops').token}"}
    group = runtime.settings.audit_log_group
    # The shipped template, pointed at rexwatch's own audit log group.
    r = secured.post("/api/v1/security/templates/brute-force/apply", json={"params": {"log_group": group}},
                     headers=admin)
    assert r.status_code == 200, r.text

    limit = runtime.settings.login_max_failures
    for i in range(limit):
        r = sign_in(secured, "ann", f"wrong password {i}")
        assert r.status_code == 401 and "wrong user name or password" in r.text
    # Locked now, even with the right password.
    r = sign_in(secured, "ann")
    assert r.status_code == 429 and "too many failed logins" in r.text
    assert users.get("ann").locked
    failures = audit_events(runtime, limit + 1, msg="failed login attempt", user_id="ann")
    assert {e["ip_address"] for e in failures} == {"testclient"}

    slot = float(math.ceil(time.time() / 60) * 60)
    worker = AlarmsWorker(runtime)
    worker.tick(slot)
    assert worker.last_report.transitions == 1, worker.last_report
    keys = secured.get("/api/v1/log-alarms/brute-force", headers=admin).json()
    assert keys["state"] == "ALARM", keys
    # An admin reset unlocks the account.
    users.reset_password("ann", "a brand new password")
    assert sign_in(secured, "ann", "a brand new password").status_code in (303, 429)  # the address stays limited


def test_role_change_is_audited_and_fires_privilege_escalation(runtime, secured):
    users = runtime.service(UserService)
    users.create("root", PASSWORD, "admin")
    users.create("val", PASSWORD, "viewer")
    assert sign_in(secured, "root").status_code == 303
    r = secured.post("/api/v1/security/templates/privilege-escalation/apply",
                     json={"params": {"log_group": runtime.settings.audit_log_group}})
    assert r.status_code == 200, r.text
    # The alarms tick on the 5-minute slot ending next: its edge must not fall between these events and the tick.
    away_from_slot_edges(before_s=0, after_s=60)
    r = secured.put("/api/v1/users/val/role", json={"role": "admin"}, headers={"user-agent": "pytest-browser"})
    assert r.status_code == 200 and r.json()["role"] == "admin"
    [event] = audit_events(runtime, 1, action="UPDATE", resource="roles")
    assert event["actor"] == "user:root" and event["resource_id"] == "val" and event["door"] == "rest"
    assert event["before"] == {"role": "viewer"} and event["after"] == {"role": "admin"}
    assert event["user_agent"] == "pytest-browser" and event["ip"] == "testclient"

    slot = float(math.ceil(time.time() / 300) * 300)
    worker = AlarmsWorker(runtime)
    worker.tick(slot)
    alarm = secured.get("/api/v1/log-alarms/privilege-escalation").json()
    assert alarm["state"] == "ALARM", alarm

    # The API and the CLI's endpoint show it; a viewer may not read the trail.
    trail = secured.get("/api/v1/audit", params={"since": "1h"}).json()
    assert any(e.get("resource") == "roles" for e in trail["events"])
    assert trail["log_group"] == "/rexwatch/audit"
    assert runtime.service(LogsService).describe_log_group("/rexwatch/audit").retention_days == 400
    page = secured.get("/audit")
    assert page.status_code == 200 and "user:root" in page.text
    assert '<code>{"role": "viewer"}</code> → <code>{"role": "admin"}</code>' in page.text
    # Viewers see neither the page nor the API.
    assert sign_in(secured, "root").status_code == 303
    users.set_role("val", "viewer")
    viewer = TestClient(secured.app)
    assert sign_in(viewer, "val").status_code == 303
    assert viewer.get("/audit").status_code == 403 and viewer.get("/api/v1/audit").status_code == 403


def test_changes_through_every_door_are_audited_with_secrets_redacted(runtime, secured):
    from rexwatch.services.access import Principal  # noqa: F401 - the actor names below come from it

    editor = runtime.keys.create("deploy-bot", role="editor")
    h = {"Authorization": f"Bearer {editor.token}"}
    r = secured.post("/api/v1/topics", json={"name": "ops"}, headers=h)
    assert r.status_code in (200, 201), r.text
    admin = runtime.keys.create("root")
    r = secured.post("/api/v1/users", json={"username": "eve", "password": PASSWORD, "role": "viewer"},
                     headers={"Authorization": f"Bearer {admin.token}"})
    assert r.status_code == 201
    [topic] = audit_events(runtime, 1, resource="topics", action="CREATE")
    assert topic["actor"] == f"key:{editor.info.prefix} (deploy-bot)" and topic["after"] == {"name": "ops"}
    [made] = audit_events(runtime, 1, resource="users", action="CREATE")
    assert PASSWORD not in json.dumps(made)
    # Reads are not changes.
    secured.get("/api/v1/topics", headers=h)
    assert not [e for e in runtime.service(AuditService).recent(limit=1000) if e.get("resource") == "topics"
                and e.get("action") != "CREATE"]


def test_team_of_three_in_a_real_browser(runtime, live, browser):
    """Admin, editor and viewer share one server: each signs in, sees their name, and the
    viewer's attempt to acknowledge an alarm is refused."""
    runtime.settings.auth = "on"
    users = runtime.service(UserService)
    for name, role in (("ann", "admin"), ("ed", "editor"), ("vic", "viewer")):
        users.create(name, PASSWORD, role)
    for name, role in (("ann", "admin"), ("ed", "editor"), ("vic", "viewer")):
        context = browser.new_context()
        page = context.new_page()
        page.goto(live.url + "/alarms")
        assert page.url.startswith(live.url + "/login?next=")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(live.url + "/alarms")
        assert f"{name} ({role})" in page.locator("header").inner_text()
        cookie = next(c for c in context.cookies() if c["name"] == "rexwatch_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        status = page.request.post(live.url + "/api/v1/alarms/none/ack").status
        assert (status == 403) == (role == "viewer"), (name, status)
        page.goto(live.url + "/logout")
        page.click("text=Sign out everywhere")
        page.wait_for_url(live.url + "/login")
        context.close()


def test_users_and_sessions_on_both_control_stores(control_url, tmp_path):
    from types import SimpleNamespace

    from rexwatch.settings import Settings
    from rexwatch.stores.control import connect_control, upgrade

    engine = connect_control(control_url)
    upgrade(engine)
    try:
        svc = UserService(SimpleNamespace(control=engine, settings=Settings(data_dir=tmp_path)))
        svc.create("ann", PASSWORD, "admin")
        user, token = svc.login("ann", PASSWORD, ip="192.0.2.1", user_agent="t")
        assert svc.session(token).name == "ann" and svc.session(token).role == "admin"
        assert svc.session("nope") is None
        with pytest.raises(AlreadyExists, match="a user named 'ann' exists"):
            svc.create("ann", PASSWORD, "viewer")
        svc.create("bob", PASSWORD, "viewer")
        assert svc.set_role("bob", "editor")[1].role == "editor"
        assert svc.logout_everywhere(user.id) == 1 and svc.session(token) is None
        svc.delete("bob")
        assert [u.username for u in svc.list()] == ["ann"]
    finally:
        engine.dispose()

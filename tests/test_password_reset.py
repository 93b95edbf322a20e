"""Password reset: a single-use, expiring link kept only as a hash, mailed through SMTP (aiosmtpd) or
the development mailbox, or handed over by an admin (CLI and REST)."""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from helpers import run_cli
from notify_helpers import Mailbox
from rexwatch.api.app import create_app
from rexwatch.services.notify import NotifyService
from rexwatch.services.recovery import RESET_MINUTES, PasswordResets
from rexwatch.services.users import UserService
from rexwatch.stores.control.tables.recovery import password_resets

OLD, NEW = "correct horse battery", "a brand new passphrase"


@pytest.fixture
def secured(runtime):
    runtime.settings.auth = "on"
    with TestClient(create_app(runtime, run_workers=False), raise_server_exceptions=False) as c:
        yield c


def _csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def _sign_in(client: TestClient, username: str, password: str):
    return client.post("/login", data={"csrf": _csrf(client, "/login"), "username": username,
                                       "password": password, "next": "/"}, follow_redirects=False)


def _ask(client: TestClient, who: str):
    r = client.post("/forgot", data={"csrf": _csrf(client, "/forgot"), "who": who})
    assert r.status_code == 200 and "If that account has an email address" in r.text
    return r


def _token(url: str) -> str:
    return parse_qs(urlparse(url).query)["token"][0]


def _set(client: TestClient, token: str, password: str, again: str | None = None):
    # The CSRF token of any console form will do (an invalid link's page has no form).
    csrf = _csrf(client, "/forgot")
    return client.post("/reset", data={"csrf": csrf, "token": token, "password": password,
                                       "password2": password if again is None else again},
                       follow_redirects=False)


def test_reset_by_mail_through_the_development_mailbox(runtime, secured):
    users = runtime.service(UserService)
    users.create("ann", OLD, "admin")
    users.create("bob", OLD, "editor")
    resets = runtime.service(PasswordResets)
    resets.set_email("bob", "bob@yourdomain.com")
    session = TestClient(secured.app, raise_server_exceptions=False)
    assert _sign_in(session, "bob", OLD).status_code == 303
    assert session.get("/alarms").status_code == 200

    # The sign-in page leads to the form; an unknown name and a known one get the same answer.
    assert 'href="/forgot"' in secured.get("/login").text
    mail = runtime.service(NotifyService)
    _ask(secured, "nobody-here")
    _ask(secured, "ann")  # an account without an address: nothing to send
    assert mail.list_mail() == []
    _ask(secured, "BOB@yourdomain.com")  # by address too, whatever its case
    [kept] = mail.list_mail()
    assert kept["to_addr"] == "bob@yourdomain.com" and kept["kind"] == "PasswordReset"
    _ask(secured, "bob")  # asked again within a minute: no second mail
    assert len(mail.list_mail()) == 1
    shown = mail.get_mail()
    [link] = [u for u in shown["links"] if "/reset?token=" in u]
    token = _token(link)
    assert f"{RESET_MINUTES} minutes" in shown["text"]

    # Only the hash is stored.
    with runtime.control.connect() as conn:
        [row] = conn.execute(select(password_resets)).all()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in json.dumps(list(row))

    page = secured.get("/reset", params={"token": token})
    assert page.status_code == 200 and "bob" in page.text
    # A mismatch or a short password does not spend the token.
    assert _set(secured, token, NEW, "something else!!").status_code == 400
    r = _set(secured, token, "short")
    assert r.status_code == 400 and "10-1024 characters" in r.text
    r = _set(secured, token, NEW)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?done=")
    # The old password is gone, the new one works, and bob's sessions ended.
    assert _sign_in(TestClient(secured.app), "bob", OLD).status_code == 401
    assert _sign_in(TestClient(secured.app), "bob", NEW).status_code == 303
    assert session.get("/alarms", headers={"accept": "text/html"}, follow_redirects=False).status_code == 303
    # Single use.
    r = secured.get("/reset", params={"token": token})
    assert r.status_code == 400 and "not valid" in r.text
    assert _set(secured, token, "yet another passphrase").status_code == 400
    assert secured.get("/reset", params={"token": "x" * 5000}).status_code == 400


def test_links_expire_and_a_newer_link_replaces_an_older_one(runtime, secured):
    runtime.service(UserService).create("bob", OLD, "editor")
    now = [1_000_000.0]
    resets = PasswordResets(runtime, clock=lambda: now[0])
    first = _token(resets.issue("bob").url)
    second = _token(resets.issue("bob").url)
    with pytest.raises(Exception, match="not valid"):
        resets.check(first)
    assert resets.check(second) == "bob"
    now[0] += RESET_MINUTES * 60 + 1
    with pytest.raises(Exception, match="expired"):
        resets.redeem(second, NEW)


def test_reset_mail_over_smtp(runtime, secured):
    box = Mailbox()
    try:
        runtime.settings.smtp_host, runtime.settings.smtp_port = "127.0.0.1", box.port
        runtime.service(UserService).create("bob", OLD, "editor")
        runtime.service(PasswordResets).set_email("bob", "bob@yourdomain.com")
        _ask(secured, "bob")
        [msg] = box.wait_for(1)
        assert msg["To"] == "bob@yourdomain.com" and msg["Subject"] == "Reset your rexwatch password"
        link = re.search(r"https?://\S+/reset\?token=\S+", msg.get_body(preferencelist=("plain",)).get_content())
        assert _set(secured, _token(link.group(0)), NEW).status_code == 303
        assert _sign_in(TestClient(secured.app), "bob", NEW).status_code == 303
    finally:
        box.close()


def test_admin_hands_out_a_link_over_rest(runtime, secured):
    users = runtime.service(UserService)
    users.create("ann", OLD, "admin")
    users.create("bob", OLD, "editor")
    admin = {"Authorization": "Bearer " + runtime.keys.create("root", role="admin").token}
    editor = {"Authorization": "Bearer " + runtime.keys.create("ed", role="editor").token}
    assert secured.post("/api/v1/users/bob/reset-link", headers=editor).status_code == 403
    r = secured.post("/api/v1/users/bob/reset-link", headers=admin)
    assert r.status_code == 200 and "/reset?token=" in r.json()["url"], r.text
    assert _set(secured, _token(r.json()["url"]), NEW).status_code == 303
    # Mailing needs an address.
    r = secured.post("/api/v1/users/bob/reset-link", json={"send": True}, headers=admin)
    assert r.status_code == 400 and "no email address" in r.text
    r = secured.put("/api/v1/users/bob/email", json={"email": "not an address"}, headers=admin)
    assert r.status_code == 400 and "email" in r.text
    assert secured.put("/api/v1/users/bob/email", json={"email": "bob@yourdomain.com"}, headers=admin).status_code == 200
    r = secured.post("/api/v1/users/bob/reset-link", json={"send": True}, headers=admin)
    assert r.status_code == 200 and "local mailbox" in r.json()["sent"]
    assert secured.post("/api/v1/users/nobody/reset-link", headers=admin).status_code == 404


def test_reset_link_cli(tmp_path):
    d = str(tmp_path / "data")
    assert run_cli("users", "create", "bob", "--password-stdin", "--data-dir", d, input=OLD + "\n").returncode == 0
    r = run_cli("users", "reset-link", "bob", "--send", "--data-dir", d)
    assert r.returncode == 1 and "no email address" in r.stderr
    r = run_cli("users", "set-email", "bob", "bob@yourdomain.com", "--data-dir", d)
    assert r.returncode == 0 and "bob@yourdomain.com" in r.stdout
    r = run_cli("--output", "table", "users", "reset-link", "bob", "--data-dir", d)
    assert r.returncode == 0 and "/reset?token=" in r.stdout, r.stderr
    r = run_cli("users", "reset-link", "bob", "--send", "--data-dir", d)
    assert r.returncode == 0 and "local mailbox" in r.stdout, r.stderr

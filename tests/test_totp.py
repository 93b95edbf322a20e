"""The optional TOTP second factor: enrolment from the console (QR code and otpauth URI), the code
asked after the password, no replay, recovery codes, and the admin's reset (REST and CLI)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from fastapi.testclient import TestClient

from helpers import run_cli
from rexwatch.api.app import create_app
from rexwatch.services.totp import MAX_TRIES, STEP_S, TotpService
from rexwatch.services.users import UserService

PASSWORD = "correct horse battery"


@pytest.fixture
def secured(runtime):
    runtime.settings.auth = "on"
    with TestClient(create_app(runtime, run_workers=False), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def clock(runtime):
    """The service's clock, moved by the test (codes are per 30-second step)."""
    now = [1_800_000_000.0]
    runtime.service(TotpService).clock = lambda: now[0]
    return now


def _csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def _password_step(client: TestClient, username: str = "bob", password: str = PASSWORD):
    return client.post("/login", data={"csrf": _csrf(client, "/login"), "username": username,
                                       "password": password, "next": "/alarms"}, follow_redirects=False)


def _code_step(client: TestClient, code: str):
    return client.post("/login/2fa", data={"csrf": _csrf(client, "/login/2fa"), "code": code, "next": "/alarms"},
                       follow_redirects=False)


def _enrol(secured, clock) -> tuple[pyotp.TOTP, list[str]]:
    """bob signs in and turns the factor on; returns his authenticator and recovery codes."""
    bob = TestClient(secured.app, raise_server_exceptions=False)
    assert _password_step(bob).status_code == 303
    page = bob.get("/account/2fa")
    assert page.status_code == 200 and 'src="data:image/svg+xml;base64,' in page.text
    uri = re.search(r"otpauth://totp/[^<\s]+", page.text).group(0).replace("&amp;", "&")
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    assert "issuer=rexwatch" in uri and "bob" in uri
    app = pyotp.TOTP(secret)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    wrong = bob.post("/account/2fa/confirm", data={"csrf": csrf, "code": "000000"})
    assert wrong.status_code == 400 and "not the one the authenticator shows" in wrong.text
    done = bob.post("/account/2fa/confirm", data={"csrf": csrf, "code": app.at(clock[0])})
    assert done.status_code == 200, done.text
    codes = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", done.text)
    assert len(codes) == 10
    return app, codes


def test_enrol_then_sign_in_with_a_code_once(runtime, secured, clock):
    runtime.service(UserService).create("bob", PASSWORD, "viewer")  # any role may turn it on
    app, _ = _enrol(secured, clock)
    assert runtime.service(TotpService).status("bob") == {"username": "bob", "enabled": True,
                                                         "recovery_codes_left": 10}
    browser = TestClient(secured.app, raise_server_exceptions=False)
    r = _password_step(browser)
    # The password alone opens no session: the code page comes next.
    assert r.status_code == 303 and r.headers["location"].startswith("/login/2fa")
    assert "rexwatch_session" not in r.headers.get("set-cookie", "")
    assert browser.get("/alarms", headers={"accept": "text/html"}, follow_redirects=False).status_code == 303
    r = _code_step(browser, "123456")
    assert r.status_code == 401 and "wrong code" in r.text
    # The code of the step used at enrolment cannot be replayed; the next step's works.
    assert _code_step(browser, app.at(clock[0])).status_code == 401
    clock[0] += STEP_S
    r = _code_step(browser, app.at(clock[0]))
    assert r.status_code == 303 and r.headers["location"] == "/alarms"
    assert browser.get("/alarms").status_code == 200
    # The same code again (another browser, same step) is refused.
    other = TestClient(secured.app, raise_server_exceptions=False)
    assert _password_step(other).status_code == 303
    assert _code_step(other, app.at(clock[0])).status_code == 401


def test_recovery_codes_work_once_and_tries_are_limited(runtime, secured, clock):
    runtime.service(UserService).create("bob", PASSWORD, "editor")
    _, codes = _enrol(secured, clock)
    browser = TestClient(secured.app, raise_server_exceptions=False)
    assert _password_step(browser).status_code == 303
    assert _code_step(browser, codes[0].upper()).status_code == 303
    again = TestClient(secured.app, raise_server_exceptions=False)
    assert _password_step(again).status_code == 303
    assert _code_step(again, codes[0]).status_code == 401
    assert runtime.service(TotpService).status("bob")["recovery_codes_left"] == 9
    for _ in range(MAX_TRIES - 1):
        assert _code_step(again, "999999").status_code == 401
    r = _code_step(again, codes[1])  # past the limit: even a right code needs a new sign-in
    assert r.status_code == 303 and r.headers["location"].startswith("/login?done=")
    # Without a password step first there is nothing to answer.
    assert TestClient(secured.app).get("/login/2fa", follow_redirects=False).headers["location"] == "/login"


def test_admin_resets_the_second_factor(runtime, secured, clock, tmp_path):
    users = runtime.service(UserService)
    users.create("bob", PASSWORD, "editor")
    _enrol(secured, clock)
    admin = {"Authorization": "Bearer " + runtime.keys.create("root", role="admin").token}
    editor = {"Authorization": "Bearer " + runtime.keys.create("ed", role="editor").token}
    assert secured.get("/api/v1/users/bob/2fa", headers=admin).json()["enabled"] is True
    assert secured.delete("/api/v1/users/bob/2fa", headers=editor).status_code == 403
    r = secured.delete("/api/v1/users/bob/2fa", headers=admin)
    assert r.status_code == 200 and r.json()["was_enabled"] is True
    browser = TestClient(secured.app, raise_server_exceptions=False)
    r = _password_step(browser)
    assert r.status_code == 303 and r.headers["location"] == "/alarms"
    # An API key has no second factor to manage.
    r = secured.get("/account/2fa", headers=admin)
    assert r.status_code == 403 and "API keys have none" in r.text


def test_reset_2fa_cli(tmp_path):
    d = str(tmp_path / "data")
    assert run_cli("users", "create", "bob", "--password-stdin", "--data-dir", d, input=PASSWORD + "\n").returncode == 0
    r = run_cli("users", "reset-2fa", "bob", "--data-dir", d)
    assert r.returncode == 0 and "was not on" in r.stdout, r.stderr
    r = run_cli("users", "reset-2fa", "nobody", "--data-dir", d)
    assert r.returncode == 1 and "no user named 'nobody'" in r.stderr

"""Sign-in by a trusted proxy's header, and the GitHub provider kind's reading of GitHub's API.

GitHub cannot be reached from tests, so a small local HTTP server answers its documented
OAuth and REST shapes (authorize redirect, token, /user, /user/emails, /user/orgs, /user/teams);
the flow through rexwatch is the real one.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from rexwatch.services.audit import AuditService
from rexwatch.services.sso.config import SsoProvider
from rexwatch.services.sso.service import SsoService
from rexwatch.services.users import UserService
from rexwatch.testing import LiveServer, wait_until

PASSWORD = "correct horse battery"


@pytest.fixture
def proxied(runtime):
    runtime.settings.auth = "on"
    runtime.settings.proxy_auth_header = "X-Forwarded-User"
    runtime.settings.proxy_auth_trusted = "127.0.0.1/32, ::1/128"
    runtime.service(UserService).create("root", PASSWORD, "admin")
    with LiveServer(runtime, run_workers=False) as live:
        yield live


def from_address(address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x address is this machine)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def test_proxy_header_signs_in_only_from_trusted_proxies(proxied, runtime):
    users = runtime.service(UserService)
    proxy = from_address("127.0.0.1")
    r = proxy.get(f"{proxied.url}/api/v1/alarms", headers={"X-Forwarded-User": "dana"})
    assert r.status_code == 200, r.text
    assert users.get("dana").role == "viewer"  # created with proxy_auth_role
    r = proxy.get(f"{proxied.url}/api/v1/users", headers={"X-Forwarded-User": "dana"})
    assert r.status_code == 403 and "user:dana has role 'viewer'" in r.json()["error"]["message"]
    page = proxy.get(f"{proxied.url}/alarms", headers={"X-Forwarded-User": "dana", "accept": "text/html"})
    assert page.status_code == 200 and "dana (viewer)" in page.text
    # An existing user keeps their role; a real proxy also sends X-Forwarded-For naming the browser,
    # which must not hide that the connection itself comes from the proxy.
    r = proxy.get(f"{proxied.url}/api/v1/users", headers={"X-Forwarded-User": "root",
                                                           "X-Forwarded-For": "203.0.113.7"})
    assert r.status_code == 200 and {u["username"] for u in r.json()["users"]} >= {"root", "dana"}

    # Anyone else sending the header is ignored, whatever X-Forwarded-For claims.
    outsider = from_address("127.0.0.2")
    for headers in ({"X-Forwarded-User": "root"}, {"X-Forwarded-User": "root", "X-Forwarded-For": "127.0.0.1"}):
        r = outsider.get(f"{proxied.url}/api/v1/users", headers=headers)
        assert r.status_code == 401, r.text
    r = outsider.get(f"{proxied.url}/api/v1/alarms", headers={"X-Forwarded-User": "mallory"})
    assert r.status_code == 401
    # A header that cannot name a user is no sign-in either.
    assert proxy.get(f"{proxied.url}/api/v1/alarms", headers={"X-Forwarded-User": "../x y"}).status_code == 401
    assert {u.username for u in users.list()} == {"root", "dana"}

    runtime.settings.proxy_auth_create_users = False
    assert proxy.get(f"{proxied.url}/api/v1/alarms", headers={"X-Forwarded-User": "erin"}).status_code == 401
    assert proxy.get(f"{proxied.url}/api/v1/alarms", headers={"X-Forwarded-User": "dana"}).status_code == 200
    users.disable("dana")
    assert proxy.get(f"{proxied.url}/api/v1/alarms", headers={"X-Forwarded-User": "dana"}).status_code == 401

    svc = runtime.service(AuditService)
    created = wait_until(lambda: [e for e in svc.recent(limit=200) if e.get("action") == "CREATE"
                                  and e.get("resource_id") == "dana"], deadline=60)
    assert created[0]["actor"] == "proxy" and created[0]["details"] == {"role": "viewer", "idp": "proxy"}


class _GitHub(BaseHTTPRequestHandler):
    """GitHub's OAuth app endpoints and the four REST calls the github kind makes, as documented."""

    codes: dict[str, str] = {}
    token = "gho_test_token"

    def log_message(self, *args) -> None:
        pass

    def _json(self, body, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/login/oauth/authorize":
            # The user approves at once; the code remembers the PKCE challenge it was issued for.
            assert q["code_challenge_method"] == "S256" and "nonce" not in q
            self.codes["c-1"] = q["code_challenge"]
            self.send_response(302)
            self.send_header("location", q["redirect_uri"] + "?" + urlencode({"code": "c-1", "state": q["state"]}))
            self.send_header("content-length", "0")
            self.end_headers()
            return
        if self.headers.get("authorization") != f"Bearer {self.token}":
            self._json({"message": "Bad credentials"}, 401)
            return
        answers = {
            "/api/user": {"login": "octo-cat", "id": 583231, "name": "The Octocat", "email": None},
            "/api/user/emails": [{"email": "octo@users.noreply.example", "primary": False, "verified": True},
                                 {"email": "octo@example.com", "primary": True, "verified": True}],
            "/api/user/orgs": [{"login": "acme"}, {"login": "other"}],
            "/api/user/teams": [{"slug": "sre", "organization": {"login": "acme"}},
                                {"slug": "web", "organization": {"login": "other"}}],
        }
        self._json(answers.get(url.path, {"message": "Not Found"}), 200 if url.path in answers else 404)

    def do_POST(self) -> None:
        body = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["content-length"])).decode()).items()}
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        ok = (body.get("client_secret") == "gh-secret" and body.get("code") in self.codes
              and create_s256_code_challenge(body.get("code_verifier", "")) == self.codes[body["code"]])
        if not ok:
            self._json({"error": "bad_verification_code", "error_description": "The code passed is incorrect."})
            return
        self._json({"access_token": self.token, "token_type": "bearer", "scope": "read:user,user:email,read:org"})


def test_github_kind_reads_login_verified_email_orgs_and_teams(runtime):
    github = ThreadingHTTPServer(("127.0.0.1", 0), _GitHub)
    threading.Thread(target=github.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{github.server_address[1]}"
    runtime.settings.auth = "on"
    runtime.settings.sso = [SsoProvider(
        name="github", kind="github", label="Sign in with GitHub", client_id="Iv1.test", client_secret="gh-secret",
        authorize_url=f"{base}/login/oauth/authorize", token_url=f"{base}/login/oauth/access_token",
        userinfo_url=f"{base}/api", username_claim="login", role_claim="teams",
        role_map={"acme/sre": "editor"}, team_claim="orgs", allowed_domains=["example.com"])]
    try:
        with LiveServer(runtime, run_workers=False) as live:
            c = httpx.Client(follow_redirects=True, timeout=30)
            r = c.get(f"{live.url}/login/sso/github?next=/alarms")
            assert str(r.url) == f"{live.url}/alarms" and "octo-cat (editor)" in r.text, r.text[-600:]
            [identity] = runtime.service(SsoService).identities()
            assert identity == {**identity, "provider": "github", "subject": "583231", "username": "octo-cat",
                                "email": "octo@example.com", "teams": ["acme", "other"]}
            # A wrong client secret: GitHub's own error words reach the login page.
            runtime.settings.sso = [runtime.settings.sso[0].model_copy(update={"client_secret": SecretStr("nope")})]
            r = httpx.Client(follow_redirects=True, timeout=30).get(f"{live.url}/login/sso/github")
            assert r.status_code == 401 and "bad_verification_code: The code passed is incorrect." in r.text
    finally:
        github.shutdown()

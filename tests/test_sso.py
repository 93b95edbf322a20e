"""Single sign-on against a real OpenID Connect provider (oidc-provider on Node.js), started here.

The browser tests sign in with Debian's Chromium through the provider's own login and consent
forms; the protocol tests drive the same flow with httpx to poke at each check (state, code,
issuer, domains) and see it refuse in words.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import re
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from oidc_provider import OidcProvider
from rexwatch.errors import Unauthorized
from rexwatch.services.audit import AuditService
from rexwatch.services.sso.config import SsoProvider
from rexwatch.services.sso.providers.base import Endpoints, Fetcher, SignInRefused
from rexwatch.services.sso.providers.oidc import OidcKind
from rexwatch.services.sso.service import FLOW_COOKIE, SsoService
from rexwatch.services.teams import TeamService
from rexwatch.services.users import UserService
from rexwatch.testing import LiveServer, wait_until

PASSWORD = "correct horse battery"
SECRET = "client-secret-for-tests-only"
ACCOUNTS = {
    "ann": {"email": "ann@example.com", "email_verified": True, "preferred_username": "ann", "name": "Ann",
            "groups": ["rw-admins", "team-sre"]},
    "bob": {"email": "bob@example.com", "email_verified": True, "preferred_username": "bob", "name": "Bob",
            "groups": ["rw-editors", "team-web", "team-sre"]},
    "val": {"email": "val@example.com", "email_verified": True, "preferred_username": "val", "name": "Val",
            "groups": []},
    "eve": {"email": "eve@evil.test", "email_verified": True, "preferred_username": "eve", "name": "Eve",
            "groups": ["rw-admins"]},
    "carl": {"email": "carl@example.com", "email_verified": False, "preferred_username": "carl", "name": "Carl",
             "groups": ["rw-admins"]},
}


def corp(issuer: str, **over) -> SsoProvider:
    return SsoProvider(**{
        "name": "corp", "label": "Sign in with Corp IdP", "issuer": issuer, "client_id": "rexwatch",
        "client_secret": SECRET, "scopes": "openid email profile groups", "username_claim": "preferred_username",
        "role_claim": "groups", "role_map": {"rw-admins": "admin", "rw-editors": "editor"},
        "team_claim": "groups", "team_map": {"team-sre": "sre", "team-web": "web"},
        "allowed_domains": ["example.com"], "provider_logout": True, **over})


@pytest.fixture
def sso(runtime, tmp_path):
    """A server with auth on and one local admin, and the provider with every account above."""
    runtime.settings.auth = "on"
    runtime.service(UserService).create("root", PASSWORD, "admin")
    live = LiveServer(runtime, run_workers=False)
    idp = OidcProvider(tmp_path, clients=[{
        "client_id": "rexwatch", "client_secret": SECRET,
        "redirect_uris": [f"{live.url}/login/sso/{n}/callback" for n in ("corp", "plain")],
        "post_logout_redirect_uris": [f"{live.url}/login"],
    }], accounts=ACCOUNTS)
    runtime.settings.sso = [
        corp(idp.issuer),
        # The same provider spoken to as plain OAuth 2.0: no discovery, no ID token, a profile endpoint.
        SsoProvider(name="plain", kind="oauth2", label="Sign in with Plain OAuth", client_id="rexwatch",
                    client_secret=SECRET, token_auth="client_secret_basic", authorize_url=f"{idp.issuer}/auth",
                    token_url=f"{idp.issuer}/token", userinfo_url=f"{idp.issuer}/me",
                    scopes="openid email profile groups", username_claim="preferred_username",
                    role_claim="groups", role_map={"rw-editors": "editor"}, default_role=""),
    ]
    live.start()
    yield live, idp
    live.stop()
    idp.stop()


def problem(r: httpx.Response) -> str:
    """The refusal the login page shows, as the reader sees it."""
    found = re.search(r'<p role="alert">(.*?)</p>', r.text, re.S)
    assert found, r.text[-800:]
    return html.unescape(found.group(1))


def audit_events(runtime, count: int, **match) -> list[dict]:
    svc = runtime.service(AuditService)

    def found():
        hits = [e for e in svc.recent(limit=1000) if all(e.get(k) == v for k, v in match.items())]
        return hits if len(hits) >= count else None

    return wait_until(found, deadline=60, what=f"audit events {match}")


def http_sign_in(live: LiveServer, provider: str, login: str, client: httpx.Client | None = None):
    """The whole flow over HTTP: start, the provider's login and consent forms, the callback."""
    c = client or httpx.Client(follow_redirects=True, timeout=30)
    r = c.get(f"{live.url}/login/sso/{provider}?next=/alarms")
    for _ in range(3):  # login, then consent (skipped once granted)
        form = re.search(r'<form[^>]*action="([^"]+)"[^>]*method="post">\s*<input type="hidden" name="prompt" '
                         r'value="(login|consent)"', r.text)
        if form is None:
            break
        data = {"prompt": form.group(2)}
        if form.group(2) == "login":
            data |= {"login": login, "password": "whatever the provider's dev form takes"}
        r = c.post(urljoin(str(r.url), form.group(1)), data=data)
    return c, r


def browser_sign_in(browser, live: LiveServer, login: str):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live.url}/alarms")
    assert urlsplit(page.url).path == "/login"
    page.get_by_role("link", name="Sign in with Corp IdP").click()
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    page.click("button.login-submit")
    page.wait_for_selector("input[name=prompt][value=consent]", state="attached")
    page.click("button.login-submit")
    page.wait_for_url(re.compile(re.escape(live.url) + r"/"))
    return context, page


def test_browser_login_creates_the_user_with_mapped_role_and_teams_then_signs_out_at_both(browser, sso, runtime):
    live, idp = sso
    context, page = browser_sign_in(browser, live, "ann")
    assert page.url == f"{live.url}/alarms"
    assert "ann (admin)" in page.content()
    users = runtime.service(UserService)
    ann = users.get("ann")
    assert ann.role == "admin"
    # Just-in-time: no password was set, and none works.
    with pytest.raises(Unauthorized):
        users.login("ann", "any password at all", ip="127.0.0.9")
    [identity] = runtime.service(SsoService).identities()
    assert (identity["provider"], identity["username"], identity["email"], identity["teams"]) == (
        "corp", "ann", "ann@example.com", ["sre"])
    assert identity["subject"] == "ann"
    [created] = audit_events(runtime, 1, action="CREATE", resource="users", resource_id="ann")
    assert created["actor"] == "sso:corp" and created["details"]["idp"] == "corp"
    [login] = audit_events(runtime, 1, action="LOGIN", actor="user:ann")
    assert login["details"]["idp"] == "corp" and login["details"]["teams"] == ["sre"]
    cookies = {c["name"]: c for c in context.cookies(live.url)}
    assert FLOW_COOKIE not in cookies  # one flow, one use
    session = cookies["rexwatch_session"]["value"]
    assert cookies["rexwatch_session"]["httpOnly"]

    # Sign out: the rexwatch session ends, then the provider's (provider_logout), and back at /login.
    page.goto(f"{live.url}/logout")
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{live.url}/login")
    assert users.session(session) is None
    page.goto(f"{live.url}/alarms")
    assert urlsplit(page.url).path == "/login"
    # The provider forgot ann too: signing in again asks for her login.
    page.get_by_role("link", name="Sign in with Corp IdP").click()
    page.wait_for_selector("input[name=login]")
    assert urlsplit(page.url).netloc == urlsplit(idp.issuer).netloc
    context.close()


def test_roles_and_teams_follow_the_claims_at_every_login(sso, runtime):
    live, idp = sso
    users = runtime.service(UserService)
    teams_svc = runtime.service(TeamService)
    for team in ("sre", "web", "ops"):  # teams are an admin's to create; "web" is mapped but will go
        teams_svc.create(team)
    teams_svc.add_member("ops", "root")
    for login, role in (("bob", "editor"), ("val", "viewer")):
        c, r = http_sign_in(live, "corp", login)
        assert str(r.url) == f"{live.url}/alarms" and f"{login} ({role})" in r.text, r.text[-500:]
        assert users.get(login).role == role
        # The session opens the REST API with that role.
        assert c.get(f"{live.url}/api/v1/alarms").status_code == 200
        assert c.get(f"{live.url}/api/v1/users").status_code == 403
    teams = {i["username"]: i["teams"] for i in runtime.service(SsoService).identities()}
    assert teams == {"bob": ["sre", "web"], "val": []}
    members = {t.name: set(t.members) for t in teams_svc.list()}
    assert members == {"sre": {"bob"}, "web": {"bob"}, "ops": {"root"}}
    # bob's group team-web no longer maps to a team: his next login takes him out of it, not out of
    # a team an admin put him in by hand.
    teams_svc.add_member("ops", "bob")
    runtime.settings.sso = [corp(idp.issuer, team_map={"team-sre": "sre"}), *runtime.settings.sso[1:]]
    http_sign_in(live, "corp", "bob")
    members = {t.name: set(t.members) for t in teams_svc.list()}
    assert members == {"sre": {"bob"}, "web": set(), "ops": {"root", "bob"}}
    removed = audit_events(runtime, 1, action="UPDATE", resource="teams", resource_id="web", actor="sso:corp")
    assert any(e["details"].get("member_removed") == "bob" for e in removed)
    assert teams_svc.teams_of(users.get("bob").id) == {teams_svc.id_of("sre"), teams_svc.id_of("ops")}

    # The provider's groups change (here: the mapping): val's next login makes her admin, and the
    # audit trail records the role change the way the privilege-escalation template reads it.
    runtime.settings.sso = [corp(idp.issuer, default_role="admin", team_map={"team-sre": "sre"}),
                            *runtime.settings.sso[1:]]
    c, r = http_sign_in(live, "corp", "val")
    assert "val (admin)" in r.text
    assert users.get("val").role == "admin"
    [change] = audit_events(runtime, 1, action="UPDATE", resource="roles", resource_id="val")
    assert change["before"] == {"role": "viewer"} and change["after"] == {"role": "admin"}
    assert change["details"] == {"role": "admin", "idp": "corp"}
    # Still one user and one identity for val: the subject links them, not a new account per login.
    assert [u.username for u in users.list()].count("val") == 1
    assert len(runtime.service(SsoService).identities()) == 2


def test_domains_unverified_addresses_and_unmapped_users_are_refused(sso, runtime):
    live, _ = sso
    users = runtime.service(UserService)
    _, r = http_sign_in(live, "corp", "eve")
    assert r.status_code == 401
    assert "eve@evil.test is not in an allowed domain (example.com)" in problem(r)
    _, r = http_sign_in(live, "corp", "carl")
    assert r.status_code == 401 and "has not verified the address 'carl@example.com'" in problem(r)
    # "plain" gives a role only to rw-editors and has no default role.
    _, r = http_sign_in(live, "plain", "ann")
    assert r.status_code == 401 and "has no groups value that gives a rexwatch role" in problem(r)
    assert {u.username for u in users.list()} == {"root"}
    assert runtime.service(SsoService).identities() == []
    # Each refusal is a failed login in the audit group, which the brute-force template counts.
    failed = audit_events(runtime, 3, msg="failed login attempt")
    assert {e["user_id"] for e in failed} >= {"eve", "carl", "ann"}
    assert any("not in an allowed domain" in e["reason"] and e["reason"].startswith("sso corp") for e in failed)


def test_plain_oauth2_kind_signs_in_from_the_profile_endpoint(sso, runtime):
    live, _ = sso
    c, r = http_sign_in(live, "plain", "bob")
    assert str(r.url) == f"{live.url}/alarms" and "bob (editor)" in r.text
    assert c.get(f"{live.url}/api/v1/alarms").status_code == 200
    [identity] = runtime.service(SsoService).identities()
    assert identity["provider"] == "plain" and identity["subject"] == "bob"


def test_forged_replayed_and_refused_callbacks(sso, runtime):
    live, idp = sso
    cb = f"{live.url}/login/sso/corp/callback"
    c = httpx.Client(timeout=30)
    r = c.get(cb, params={"code": "x", "state": "y"})
    assert r.status_code == 400 and "was not started in this browser" in problem(r)
    r = c.get(f"{live.url}/login/sso/nope")
    assert r.status_code == 404 and "no single sign-on provider named 'nope'" in problem(r)

    # The start: PKCE S256, state and nonce, and the configured redirect URI whatever Host says.
    r = c.get(f"{live.url}/login/sso/corp?next=//evil.example/x", headers={"host": "evil.example"})
    assert r.status_code == 303
    q = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
    assert r.headers["location"].startswith(f"{idp.issuer}/auth?")
    assert q["redirect_uri"] == cb and q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert len(q["state"]) >= 32 and len(q["nonce"]) >= 32 and q["response_type"] == "code"
    assert "openid" in q["scope"].split()
    flow = r.cookies[FLOW_COOKIE]
    assert q["state"] not in flow and q["nonce"] not in flow  # encrypted, not just signed
    set_cookie = r.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "samesite=lax" in set_cookie.lower() and "Path=/login/sso/" in set_cookie

    r = c.get(cb, params={"code": "x", "state": "not-the-state"})
    assert r.status_code == 400 and "does not match this browser's sign-in" in problem(r)
    # A failed callback ends the flow: even the right state cannot be tried again.
    r = c.get(cb, params={"code": "x", "state": q["state"]})
    assert r.status_code == 400 and "cookie is missing" in problem(r)

    def start() -> str:
        r = c.get(f"{live.url}/login/sso/corp")
        return parse_qs(urlsplit(r.headers["location"]).query)["state"][0]

    r = c.get(cb, params={"error": "access_denied", "error_description": "End-User aborted interaction",
                          "state": start()})
    assert r.status_code == 401 and "did not sign you in: access_denied: End-User aborted interaction" in problem(r)
    r = c.get(cb, params={"code": "made-up", "state": start(), "iss": idp.issuer})
    assert r.status_code == 401 and "refused: invalid_grant" in problem(r)
    r = c.get(cb, params={"code": "made-up", "state": start(), "iss": "https://other.example"})
    assert r.status_code == 401 and "not 'http://127.0.0.1" in problem(r)

    # A real login's callback, replayed: the flow cookie is gone, and so would be the code.
    client = httpx.Client(timeout=30, follow_redirects=True)
    seen: list[str] = []
    client.event_hooks["request"] = [lambda req: seen.append(str(req.url))]
    http_sign_in(live, "corp", "bob", client)
    callback = next(u for u in seen if u.startswith(cb))
    client.cookies.delete("rexwatch_session")
    r = client.get(callback)
    assert r.status_code == 400 and "cookie is missing" in problem(r)
    # The safe "next" kept the login on this server.
    assert str(client.get(f"{live.url}/").url).startswith(live.url)
    assert runtime.settings.base_url == live.url


def test_outbound_policy_and_transport_rules_apply_to_providers(sso, runtime):
    live, _ = sso
    runtime.settings.outbound_allow_loopback = False
    r = httpx.get(f"{live.url}/login/sso/corp", timeout=30)
    assert r.status_code == 503 and "refused by the outbound address policy" in problem(r)
    assert "outbound_allow_loopback" in problem(r)
    runtime.settings.outbound_allow_loopback = True
    runtime.settings.sso = [corp("http://idp.example.com/realms/x")]
    r = httpx.get(f"{live.url}/login/sso/corp", timeout=30)
    assert r.status_code == 503 and "must be an https:// URL" in problem(r)


def run_async(coro):
    # In a thread of its own: the browser tests' Playwright keeps an event loop in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _signed(key: RSAKey, **claims) -> str:
    base = {"iss": "https://idp.example", "aud": "rexwatch", "sub": "u1", "nonce": "n-1",
            "iat": int(time.time()), "exp": int(time.time()) + 300}
    base.update(claims)
    return jwt.encode({"alg": "RS256", "kid": key.kid}, {k: v for k, v in base.items() if v is not None}, key)


def test_id_token_checks_signature_issuer_audience_expiry_and_nonce(runtime):
    key = RSAKey.generate_key(2048, parameters={"kid": "good"})
    other = RSAKey.generate_key(2048, parameters={"kid": "good"})
    kind = OidcKind(corp("https://idp.example"))
    ep = Endpoints(authorize="https://idp.example/a", token="https://idp.example/t", jwks="https://idp.example/k",
                   issuer="https://idp.example")
    kind.remember("jwks", KeySet([key]))

    def check(token: str, nonce: str = "n-1") -> dict:
        async def run():
            async with Fetcher(runtime.settings, "corp", 5) as http:
                return await kind.claims(http, ep, {"id_token": token, "access_token": "at"}, nonce)
        return run_async(run())

    assert check(_signed(key))["sub"] == "u1"
    for token, nonce, words in (
        (_signed(other), "n-1", "bad_signature"),
        (_signed(key, iss="https://evil.example"), "n-1", "iss"),
        (_signed(key, aud="someone-else"), "n-1", "aud"),
        (_signed(key, exp=int(time.time()) - 3600), "n-1", "expired"),
        (_signed(key), "another-login", "nonce"),
        (_signed(key, nonce=None), "n-1", "nonce"),
        (_signed(key, exp=None), "n-1", "exp"),
        ("not.a.jwt", "n-1", "rejected"),
    ):
        with pytest.raises(SignInRefused) as e:
            check(token, nonce)
        assert "the ID token was rejected" in e.value.message and words in e.value.message.lower(), e.value.message
    # An unsigned token is never accepted, whatever it claims.
    header = "eyJhbGciOiJub25lIn0"
    with pytest.raises(SignInRefused):
        check(header + "." + _signed(key).split(".")[1] + ".")
    with pytest.raises(SignInRefused, match="no ID token"):
        run_async(_claims_without_id_token(kind, ep, runtime))


async def _claims_without_id_token(kind, ep, runtime):
    async with Fetcher(runtime.settings, "corp", 5) as http:
        return await kind.claims(http, ep, {"access_token": "at"}, "n")


def test_admins_see_providers_and_identities_and_unlinking_never_hands_over_an_account(sso, runtime):
    live, idp = sso
    http_sign_in(live, "corp", "bob")
    admin = {"authorization": "Bearer " + runtime.keys.create("admin-key", role="admin").token}
    viewer = {"authorization": "Bearer " + runtime.keys.create("viewer-key", role="viewer").token}
    r = httpx.get(f"{live.url}/api/v1/sso/providers", headers=admin)
    corp_view = r.json()["providers"][0]
    assert corp_view["client_secret"] == "********" and SECRET not in r.text
    assert corp_view["redirect_uri"] == f"{live.url}/login/sso/corp/callback"
    assert httpx.get(f"{live.url}/api/v1/sso/identities", headers=viewer).status_code == 403
    [bob] = httpx.get(f"{live.url}/api/v1/sso/identities", headers=admin).json()["identities"]
    assert (bob["username"], bob["role"], bob["teams"]) == ("bob", "editor", ["sre", "web"])
    r = httpx.delete(f"{live.url}/api/v1/sso/identities/corp/bob", headers=admin)
    assert r.status_code == 200 and r.json()["unlinked"]["username"] == "bob"
    assert httpx.delete(f"{live.url}/api/v1/sso/identities/corp/bob", headers=admin).status_code == 404
    # The provider account is now a stranger to the user "bob": a name alone does not link them ...
    _, r = http_sign_in(live, "corp", "bob")
    assert r.status_code == 401 and "a rexwatch user named 'bob' exists and is not linked to corp" in problem(r)
    # ... unless the provider is trusted to name users (link_existing).
    runtime.settings.sso = [corp(idp.issuer, link_existing=True), *runtime.settings.sso[1:]]
    _, r = http_sign_in(live, "corp", "bob")
    assert str(r.url) == f"{live.url}/alarms" and "bob (editor)" in r.text
    audit_events(runtime, 1, action="DELETE", resource="sso_identities", resource_id="corp/bob")
    # Without just-in-time creation, someone new is turned away; the linked bob still gets in.
    runtime.settings.sso = [corp(idp.issuer, jit=False), *runtime.settings.sso[1:]]
    _, r = http_sign_in(live, "corp", "val")
    assert r.status_code == 401 and "there is no rexwatch user 'val'" in problem(r)
    assert "val" not in {u.username for u in runtime.service(UserService).list()}
    _, r = http_sign_in(live, "corp", "bob")
    assert "bob (editor)" in r.text
    # An admin's "disable" holds against the provider too.
    runtime.service(UserService).disable("bob")
    _, r = http_sign_in(live, "corp", "bob")
    assert r.status_code == 401 and "this account is disabled" in problem(r)


@pytest.mark.parametrize("settings, words", [
    ({"sso": [{"name": "corp", "client_id": "x"}]}, "provider 'corp' (kind oidc) needs issuer"),
    ({"sso": [{"name": "gh", "kind": "gitlab", "client_id": "x"}]}, "unknown kind 'gitlab'; known: oidc, github, oauth2"),
    ({"sso": [{"name": "Corp!", "issuer": "https://i.example", "client_id": "x"}]}, "sso.0.name"),
    ({"sso": [{"name": "c", "issuer": "https://i.example", "client_id": "x", "role_map": {"g": "root"}}]},
     "'g' maps to 'root'; roles are viewer, editor, admin"),
    ({"sso": [{"name": "c", "issuer": "https://i.example", "client_id": "x", "allowed_domains": ["not a domain"]}]},
     "'not a domain' is not a domain name"),
    ({"sso": [{"name": "c", "issuer": "ftp://i.example", "client_id": "x"}]}, "is not an http(s) URL"),
    ({"sso": [{"name": "c", "issuer": "https://i.example", "client_id": "x"}] * 2}, "two providers are named 'c'"),
    ({"proxy_auth_header": "X-Forwarded-User"}, "proxy_auth_header needs proxy_auth_trusted"),
    ({"proxy_auth_header": "X-User", "proxy_auth_trusted": "10.0.0.0/33"}, "proxy_auth_trusted"),
])
def test_bad_sso_settings_are_named(settings, words):
    from rexwatch.errors import ConfigError
    from rexwatch.settings import load_settings

    with pytest.raises(ConfigError) as e:
        load_settings(**settings)
    assert words in str(e.value)

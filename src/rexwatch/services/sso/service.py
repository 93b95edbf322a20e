"""The single sign-on flow: authorization code with PKCE, then claims -> user, role and teams.

``begin`` sends the browser to the provider with a fresh ``state``, ``nonce`` and PKCE
(S256) verifier, kept in a short-lived cookie encrypted with the server's secret key (so
nothing is stored server-side and a second server behind the same key could finish it).
``finish`` takes the callback: the cookie must be there and fresh, its state must equal the
returned one, the provider's error is shown as it is, the code is exchanged with the verifier
at the token endpoint, and the provider kind turns the answer into claims (for OIDC: a
checked ID token). ``admit`` maps the claims: allowed e-mail domains, role, teams, the user
(created just in time, linked by the provider's subject id, never by a name alone unless
``link_existing`` says so), and opens an ordinary console session.

The redirect URI is always the configured one (``public_url`` or ``redirect_uri``), never
built from the request's Host header, so a forged Host cannot steer codes elsewhere.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.fernet import InvalidToken

from rexwatch.errors import AlreadyExists, Invalid, NotFound, Protected
from rexwatch.services.access import ROLES
from rexwatch.services.sso.config import SsoProvider
from rexwatch.services.sso.providers import KINDS
from rexwatch.services.sso.providers.base import Fetcher, ProviderKind, SignInRefused, check_transport
from rexwatch.services.users import User, UserService, check_username
from rexwatch.stores.control.sso_repo import SsoRepo

FLOW_COOKIE = "rexwatch_sso"
# A login must come back from the provider within this long.
FLOW_TTL_S = 600
_MAX_PARAM = 4096


@dataclass
class Started:
    url: str
    cookie: str


@dataclass
class SignedIn:
    user: User
    session: str
    provider: str
    subject: str
    email: str
    teams: list[str]
    created: bool = False
    role_before: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)


def claim(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (``realm_access.roles``); a key that itself holds dots wins."""
    if not path:
        return None
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def claim_values(value: Any) -> list[str]:
    """A claim as a list of strings: a string is one value (or several separated by commas or spaces
    in providers that flatten lists), a list its string members, an object its keys."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int)]
    if isinstance(value, dict):
        return [str(k) for k in value]
    return [str(value)]


class SsoService:
    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.repo = SsoRepo(runtime.control)
        self._source: list[SsoProvider] | None = None
        self._by_name: dict[str, ProviderKind] = {}

    @property
    def _kinds(self) -> dict[str, ProviderKind]:
        # One kind instance per provider (each caches its discovery and keys), rebuilt if settings change.
        current = self.runtime.settings.sso
        if current is not self._source:
            self._by_name = {p.name: KINDS[p.kind](p) for p in current}
            self._source = current
        return self._by_name

    # Configuration -----------------------------------------------------------------

    def providers(self) -> list[SsoProvider]:
        return list(self.runtime.settings.sso)

    def provider(self, name: str) -> tuple[SsoProvider, ProviderKind]:
        kind = self._kinds.get(name)
        if kind is None:
            raise NotFound(f"no single sign-on provider named {name[:50]!r} is configured", field="provider")
        return kind.cfg, kind

    def redirect_uri(self, cfg: SsoProvider) -> str:
        return cfg.redirect_uri or f"{self.runtime.settings.base_url}/login/sso/{cfg.name}/callback"

    def _fetcher(self, cfg: SsoProvider) -> Fetcher:
        return Fetcher(self.runtime.settings, cfg.name, cfg.timeout_s)

    # The flow --------------------------------------------------------------------

    async def begin(self, name: str, next_path: str) -> Started:
        cfg, kind = self.provider(name)
        async with self._fetcher(cfg) as http:
            ep = await kind.endpoints(http)
        check_transport(ep.authorize, "the authorization endpoint")
        state, verifier = generate_token(32), generate_token(64)
        nonce = generate_token(32) if kind.uses_nonce else ""
        url = prepare_grant_uri(
            ep.authorize, cfg.client_id, "code", redirect_uri=self.redirect_uri(cfg), scope=kind.scopes,
            state=state, code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256",
            nonce=nonce or None,
        )
        flow = {"p": name, "s": state, "n": nonce, "v": verifier, "next": next_path, "t": time.time()}
        return Started(url, self.runtime.box.encrypt(orjson.dumps(flow).decode()))

    def _flow(self, name: str, cookie: str) -> dict[str, Any]:
        again = "start again from the login page"
        if not cookie:
            raise Invalid(f"this sign-in was not started in this browser (its cookie is missing): {again}")
        try:
            flow = orjson.loads(self.runtime.box.decrypt(cookie[:_MAX_PARAM]))
        except (InvalidToken, ValueError, TypeError):
            raise Invalid(f"this sign-in's cookie is not one this server made: {again}")
        if not isinstance(flow, dict) or flow.get("p") != name:
            raise Invalid(f"this browser started a sign-in with another provider: {again}")
        if time.time() - float(flow.get("t", 0)) > FLOW_TTL_S:
            raise Invalid(f"this sign-in took longer than {FLOW_TTL_S // 60} minutes: {again}")
        return flow

    async def finish(self, name: str, cookie: str, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        """The claims of whoever the provider sent back, and the page to go to afterwards."""
        cfg, kind = self.provider(name)
        flow = self._flow(name, cookie)
        state = params.get("state", "")[:_MAX_PARAM]
        if not state or not hmac.compare_digest(state.encode(), str(flow["s"]).encode()):
            raise Invalid("the state returned by the provider does not match this browser's sign-in "
                          "(a forged or replayed callback): start again from the login page")
        if params.get("error"):
            desc = params.get("error_description", "")[:300]
            raise SignInRefused(f"{cfg.name} did not sign you in: {params['error'][:100]}" + (f": {desc}" if desc else ""))
        code = params.get("code", "")[:_MAX_PARAM]
        if not code:
            raise Invalid("the provider's callback has no code")
        async with self._fetcher(cfg) as http:
            ep = await kind.endpoints(http)
            # RFC 9207: when the provider names itself, it must be the one this login went to.
            if params.get("iss") and ep.issuer and params["iss"] != ep.issuer:
                raise SignInRefused(f"the callback comes from issuer {params['iss'][:200]!r}, not {ep.issuer!r}")
            body = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri(cfg),
                    "code_verifier": flow["v"], "client_id": cfg.client_id}
            secret = cfg.client_secret.get_secret_value()
            auth = None
            if secret and (cfg.token_auth or kind.token_auth) == "client_secret_basic":
                auth = (cfg.client_id, secret)
            elif secret:
                body["client_secret"] = secret
            token = await http.json("POST", ep.token, "exchanging the code for tokens", oauth_errors=True,
                                    data=body, auth=auth)
            if isinstance(token, dict) and isinstance(token.get("error"), str):
                # GitHub answers a refused exchange with 200 and an OAuth error body.
                desc = token.get("error_description")
                raise SignInRefused(f"exchanging the code for tokens: {cfg.name} refused: {token['error'][:100]}"
                                    + (f": {str(desc)[:300]}" if desc else ""))
            if not isinstance(token, dict) or not isinstance(token.get("access_token"), str):
                raise SignInRefused("the token endpoint's answer has no access_token")
            if str(token.get("token_type", "bearer")).lower() != "bearer":
                raise SignInRefused(f"the token endpoint issued a {token.get('token_type')!r} token, not a bearer one")
            claims = await kind.claims(http, ep, token, str(flow["n"]))
        return claims, str(flow.get("next") or "/")

    async def logout_url(self, user_id: int) -> str | None:
        """Where to send a browser signing out, to end its session at the provider too (if asked for)."""
        for row in self.repo.of_user(user_id):
            kind = self._kinds.get(row.provider)
            if kind is None or not kind.cfg.provider_logout:
                continue
            async with self._fetcher(kind.cfg) as http:
                ep = await kind.endpoints(http)
            if not ep.end_session:
                return None
            check_transport(ep.end_session, "the end-session endpoint")
            return add_params_to_uri(ep.end_session, [
                ("client_id", kind.cfg.client_id),
                ("post_logout_redirect_uri", f"{self.runtime.settings.base_url}/login"),
            ])
        return None

    # Claims -> user ------------------------------------------------------------------

    def map_role(self, cfg: SsoProvider, claims: dict[str, Any]) -> str:
        values = claim_values(claim(claims, cfg.role_claim))
        granted = [cfg.role_map[v] for v in values if v in cfg.role_map]
        if granted:
            return max(granted, key=ROLES.index)
        if cfg.default_role:
            return cfg.default_role
        raise SignInRefused(f"your {cfg.name} account has no {cfg.role_claim or 'role'} value that gives a rexwatch "
                            f"role (mapped: {', '.join(sorted(cfg.role_map)) or 'none'})")

    def map_teams(self, cfg: SsoProvider, claims: dict[str, Any]) -> list[str]:
        values = claim_values(claim(claims, cfg.team_claim))
        if cfg.team_map:
            values = [cfg.team_map[v] for v in values if v in cfg.team_map]
        return sorted(set(values))

    def check_domain(self, cfg: SsoProvider, claims: dict[str, Any]) -> str:
        email = claim(claims, cfg.email_claim)
        email = email.strip().lower() if isinstance(email, str) else ""
        if not cfg.allowed_domains:
            return email
        # An address the provider says it did not verify proves nothing about its domain.
        verified = claims.get("email_verified", True) not in (False, "false", "False")
        domain = email.rpartition("@")[2] if "@" in email else ""
        if not verified:
            raise SignInRefused(f"{cfg.name} has not verified the address {email!r}, so its domain cannot admit you")
        if domain not in cfg.allowed_domains:
            raise SignInRefused(f"{email or 'an account without an e-mail address'} is not in an allowed domain "
                                f"({', '.join(cfg.allowed_domains)})")
        return email

    def admit(self, name: str, claims: dict[str, Any], *, ip: str = "", user_agent: str = "") -> SignedIn:
        """The user these claims sign in (created or updated), with a new console session."""
        from rexwatch.services.audit import AuditService

        cfg, _ = self.provider(name)
        users = self.runtime.service(UserService)
        audit = self.runtime.service(AuditService)
        subject = str(claims.get("sub", ""))[:255]
        if not subject:
            raise SignInRefused("the provider named no subject for this account")
        wanted = claim(claims, cfg.username_claim)
        try:
            email = self.check_domain(cfg, claims)
            role = self.map_role(cfg, claims)
            teams = self.map_teams(cfg, claims)
            if not isinstance(wanted, str | int) or str(wanted).strip() == "":
                raise SignInRefused(f"the claim {cfg.username_claim!r} that names rexwatch users is missing "
                                    "from this account")
            try:
                username = check_username(str(wanted))
            except Invalid as e:
                raise SignInRefused(f"the claim {cfg.username_claim!r} ({str(wanted)[:100]!r}) cannot name a "
                                    f"rexwatch user: {e.message}")
        except SignInRefused as e:
            audit.failed_login(str(wanted or subject)[:200], ip, user_agent, f"sso {name}: {e.message}")
            raise
        now = time.time()
        created, role_before = False, None
        found = self.repo.find(name, subject)
        if found is not None and found.username is None:  # its user was deleted: start afresh
            self.repo.drop(found.id)
            found = None
        previous_teams: list[str] = []
        if found is not None:
            user = users.get(found.username)
            previous_teams = list(found.teams or [])
            self.repo.seen(found.id, email, teams, now)
        else:
            try:
                user = users.get(username)
            except NotFound:
                user = None
            if user is not None and not cfg.link_existing:
                reason = (f"a rexwatch user named {username!r} exists and is not linked to {name}: an admin can "
                          f"delete it, or set link_existing for this provider")
                audit.failed_login(username, ip, user_agent, f"sso {name}: {reason}")
                raise SignInRefused(reason)
            if user is None:
                if not cfg.jit:
                    reason = f"there is no rexwatch user {username!r} and this provider does not create users (jit)"
                    audit.failed_login(username, ip, user_agent, f"sso {name}: {reason}")
                    raise SignInRefused(reason)
                try:
                    user = users.create_external(username, role)
                except AlreadyExists:  # a second first login of the same person, at the same moment
                    raise SignInRefused("another sign-in of this account is creating its user: try again")
                created = True
                audit.record(None, "CREATE", "users", resource_id=username, door="console", actor=f"sso:{name}",
                             ip=ip, user_agent=user_agent, after={"username": username, "role": role, "teams": teams},
                             details={"role": role, "idp": name, "subject": subject})
            try:
                self.repo.link(name, subject, user.id, email, teams, now)
            except AlreadyExists:
                raise SignInRefused("another sign-in of this account is linking it: try again")
        if user.disabled:
            audit.failed_login(user.username, ip, user_agent, f"sso {name}: account disabled")
            raise SignInRefused("this account is disabled: ask an admin")
        if user.role != role:
            # The provider is the authority on roles: re-derived at every login.
            try:
                before, user = users.set_role(user.username, role)
            except Protected as e:
                audit.failed_login(user.username, ip, user_agent, f"sso {name}: {e.message}")
                raise SignInRefused(f"{e.message} (your {name} groups would make you {role})")
            role_before = before.role
            audit.record(None, "UPDATE", "roles", resource_id=user.username, door="console", actor=f"sso:{name}",
                         ip=ip, user_agent=user_agent, before={"role": before.role}, after={"role": role},
                         details={"role": role, "idp": name})
        self._sync_teams(name, user.username, teams, previous_teams, ip=ip, user_agent=user_agent)
        session = users.open_session(user.id, ip=ip, user_agent=user_agent)
        return SignedIn(user, session, name, subject, email, teams, created, role_before, claims)

    def _sync_teams(self, name: str, username: str, teams: list[str], previous: list[str], *, ip: str,
                    user_agent: str) -> None:
        """Make the user a member of the mapped teams that exist, and no longer of those an earlier
        login of this identity mapped and this one does not. Memberships an admin gave by hand
        (teams this provider never mapped) are left alone."""
        from rexwatch.services.audit import AuditService
        from rexwatch.services.teams import TeamService

        svc = self.runtime.service(TeamService)
        audit = self.runtime.service(AuditService)
        changes: list[tuple[str, str]] = []
        for team in teams:
            try:
                if svc.add_member(team, username):
                    changes.append((team, "added"))
            except NotFound:  # teams are an admin's to create: a mapped name with no team is skipped
                continue
        for team in sorted(set(previous) - set(teams)):
            try:
                svc.remove_member(team, username)
                changes.append((team, "removed"))
            except NotFound:
                continue
        for team, change in changes:
            audit.record(None, "UPDATE", "teams", resource_id=team, door="console", actor=f"sso:{name}", ip=ip,
                         user_agent=user_agent, details={f"member_{change}": username, "idp": name})

    def identities(self) -> list[dict[str, Any]]:
        return [{"provider": r.provider, "subject": r.subject, "username": r.username, "role": r.role,
                 "email": r.email, "teams": list(r.teams or []), "last_login_at": r.last_login_at}
                for r in self.repo.all()]

    def unlink(self, provider: str, subject: str) -> dict[str, Any]:
        found = self.repo.find(provider, subject)
        if found is None:
            raise NotFound(f"no identity {subject[:100]!r} of provider {provider[:40]!r} is linked", field="subject")
        self.repo.drop(found.id)
        return {"provider": provider, "subject": subject, "username": found.username, "email": found.email}


"""GitHub (and GitHub Enterprise) OAuth apps: OAuth 2.0 without OpenID Connect.

There is no ID token: the person is read from the REST API with the access token. The
claims offered for mapping are ``login``, ``email`` (the primary address, only if GitHub
verified it), ``orgs`` (organisation logins) and ``teams`` (``org/team-slug``), so
``role_claim = "teams"`` with ``role_map = {"acme/sre" = "admin"}`` works as for OIDC groups.
"""

from __future__ import annotations

from typing import Any

from rexwatch.services.sso.providers.base import Endpoints, Fetcher, ProviderKind, SignInRefused

GITHUB_AUTHORIZE = "https://github.com/login/oauth/authorize"
GITHUB_TOKEN = "https://github.com/login/oauth/access_token"
GITHUB_API = "https://api.github.com"


class GitHubKind(ProviderKind):
    default_scopes = "read:user user:email read:org"

    async def endpoints(self, http: Fetcher) -> Endpoints:
        return Endpoints(authorize=self.cfg.authorize_url or GITHUB_AUTHORIZE,
                         token=self.cfg.token_url or GITHUB_TOKEN,
                         userinfo=(self.cfg.userinfo_url or GITHUB_API).rstrip("/"))

    async def claims(self, http: Fetcher, ep: Endpoints, token: dict[str, Any], nonce: str) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token['access_token']}", "accept": "application/vnd.github+json"}
        user = await http.json("GET", f"{ep.userinfo}/user", "reading the GitHub user", headers=headers)
        if not isinstance(user, dict) or user.get("id") in (None, "") or not user.get("login"):
            raise SignInRefused("GitHub's user record has no id or login")
        emails = await http.json("GET", f"{ep.userinfo}/user/emails", "reading the GitHub e-mail addresses",
                                 headers=headers)
        primary = next((e.get("email") for e in emails if isinstance(e, dict) and e.get("primary")
                        and e.get("verified")), None) if isinstance(emails, list) else None
        orgs = await http.json("GET", f"{ep.userinfo}/user/orgs?per_page=100", "reading the GitHub organisations",
                               headers=headers)
        teams = await http.json("GET", f"{ep.userinfo}/user/teams?per_page=100", "reading the GitHub teams",
                                headers=headers)
        return {
            "sub": str(user["id"]),
            "login": user["login"],
            "preferred_username": user["login"],
            "name": user.get("name") or user["login"],
            # Only an address GitHub verified may pass an allowed-domains check.
            "email": primary or "",
            "email_verified": primary is not None,
            "orgs": [o["login"] for o in orgs if isinstance(o, dict) and o.get("login")] if isinstance(orgs, list)
            else [],
            "teams": [f"{t['organization']['login']}/{t['slug']}" for t in teams
                      if isinstance(t, dict) and t.get("slug") and isinstance(t.get("organization"), dict)
                      and t["organization"].get("login")] if isinstance(teams, list) else [],
        }

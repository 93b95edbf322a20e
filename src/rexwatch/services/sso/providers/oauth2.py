"""Plain OAuth 2.0 providers: configured endpoints, and the person read from a profile endpoint."""

from __future__ import annotations

from typing import Any

from rexwatch.services.sso.providers.base import Endpoints, Fetcher, ProviderKind, SignInRefused


class OAuth2Kind(ProviderKind):
    default_scopes = "email profile"

    @classmethod
    def missing_settings(cls, cfg: Any) -> list[str]:
        return [f for f in ("authorize_url", "token_url", "userinfo_url") if not getattr(cfg, f)]

    async def endpoints(self, http: Fetcher) -> Endpoints:
        return Endpoints(authorize=self.cfg.authorize_url, token=self.cfg.token_url, userinfo=self.cfg.userinfo_url)

    async def claims(self, http: Fetcher, ep: Endpoints, token: dict[str, Any], nonce: str) -> dict[str, Any]:
        profile = await http.json("GET", ep.userinfo, "reading the user profile",
                                  headers={"authorization": f"Bearer {token['access_token']}"})
        if not isinstance(profile, dict):
            raise SignInRefused("the user profile is not a JSON object")
        subject = profile.get("sub", profile.get("id"))
        if subject in (None, ""):
            raise SignInRefused("the user profile names no subject (no 'sub' or 'id')")
        return {**profile, "sub": str(subject)}

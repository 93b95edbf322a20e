"""OpenID Connect providers, found by discovery from their issuer.

The ID token is the identity: its signature is checked against the provider's published
keys (joserfc), then its claims with authlib's ID-token rules plus ours: ``iss`` is the
configured issuer, ``aud`` holds our client id, ``exp`` is in the future, ``nonce`` is the
one this login sent, ``azp`` and ``at_hash`` match when present. The userinfo endpoint adds
claims the token leaves out (some providers keep groups or e-mail there), for the same ``sub``.
"""

from __future__ import annotations

from typing import Any

from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from rexwatch.services.sso.providers.base import (
    Endpoints,
    Fetcher,
    ProviderKind,
    ProviderUnavailable,
    SignInRefused,
)

# Clock difference tolerated between this server and the provider.
LEEWAY_S = 60
# Never accept an unsigned token or a symmetric one keyed by something we would have to share.
_ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class OidcKind(ProviderKind):
    uses_nonce = True
    token_auth = "client_secret_basic"

    @classmethod
    def missing_settings(cls, cfg: Any) -> list[str]:
        return [] if cfg.issuer else ["issuer"]

    @property
    def scopes(self) -> str:
        scopes = self.cfg.scopes or self.default_scopes
        return scopes if "openid" in scopes.split() else "openid " + scopes

    async def endpoints(self, http: Fetcher) -> Endpoints:
        hit = self.cached("endpoints")
        if hit is not None:
            return hit
        issuer = self.cfg.issuer.rstrip("/")
        doc = await http.json("GET", issuer + "/.well-known/openid-configuration", "OIDC discovery")
        if not isinstance(doc, dict):
            raise ProviderUnavailable("OIDC discovery: the document is not a JSON object")
        # The discovery document must be the issuer's own (OpenID Connect Discovery 1.0, 4.3).
        if str(doc.get("issuer", "")).rstrip("/") != issuer:
            raise ProviderUnavailable(f"OIDC discovery: the document names issuer {doc.get('issuer')!r}, "
                                      f"not the configured {self.cfg.issuer!r}")
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
        if missing:
            raise ProviderUnavailable(f"OIDC discovery: the document has no {', '.join(missing)}")
        methods = doc.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise ProviderUnavailable("OIDC discovery: the provider does not support PKCE with S256")
        algs = tuple(a for a in doc.get("id_token_signing_alg_values_supported") or ["RS256"] if a in _ASYMMETRIC)
        if not algs:
            raise ProviderUnavailable("OIDC discovery: the provider signs ID tokens with no asymmetric algorithm")
        return self.remember("endpoints", Endpoints(
            authorize=doc["authorization_endpoint"], token=doc["token_endpoint"],
            userinfo=doc.get("userinfo_endpoint") or "", jwks=doc["jwks_uri"], issuer=doc["issuer"],
            end_session=doc.get("end_session_endpoint") or "", algorithms=algs,
        ))

    async def _keys(self, http: Fetcher, ep: Endpoints, refresh: bool = False) -> KeySet:
        hit = None if refresh else self.cached("jwks")
        if hit is not None:
            return hit
        data = await http.json("GET", ep.jwks, "reading the provider's signing keys")
        try:
            return self.remember("jwks", KeySet.import_key_set(data))
        except (JoseError, ValueError, TypeError, KeyError) as e:
            raise ProviderUnavailable(f"the provider's signing keys cannot be read: {e}")

    async def claims(self, http: Fetcher, ep: Endpoints, token: dict[str, Any], nonce: str) -> dict[str, Any]:
        id_token = token.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise SignInRefused("the provider's token answer has no ID token (is 'openid' among the scopes?)")
        registry = JWSRegistry(algorithms=list(ep.algorithms))
        try:
            try:
                decoded = jwt.decode(id_token, await self._keys(http, ep), registry=registry)
            except JoseError as e:
                if "kid" not in str(e).lower() and type(e).__name__ != "InvalidKeyIdError":
                    raise
                # A key id we do not know: the provider rotated its keys since we fetched them.
                decoded = jwt.decode(id_token, await self._keys(http, ep, refresh=True), registry=registry)
            options = {
                "iss": {"essential": True, "value": ep.issuer},
                "aud": {"essential": True, "value": self.cfg.client_id},
                "exp": {"essential": True},
                "sub": {"essential": True},
                "nonce": {"essential": True, "value": nonce},
            }
            params = {"nonce": nonce, "client_id": self.cfg.client_id, "access_token": token.get("access_token")}
            id_claims = CodeIDToken(decoded.claims, decoded.header, options, params)
            id_claims.validate(leeway=LEEWAY_S)
        except JoseError as e:
            raise SignInRefused(f"the ID token was rejected: {_describe(e)}")
        except ValueError as e:  # a token that is not even a JWS
            raise SignInRefused(f"the ID token was rejected: {e}")
        claims = dict(id_claims)
        access = token.get("access_token")
        if ep.userinfo and access:
            info = await http.json("GET", ep.userinfo, "reading userinfo",
                                   headers={"authorization": f"Bearer {access}"})
            # Userinfo about someone else must not leak into this login (OIDC Core 5.3.2).
            if isinstance(info, dict) and info.get("sub") == claims["sub"]:
                claims = {**info, **claims}
        return claims


def _describe(e: JoseError) -> str:
    what = getattr(e, "description", "") or str(e) or type(e).__name__
    return f"{getattr(e, 'error', type(e).__name__)}: {what}" if what != getattr(e, "error", None) else what

"""What every provider kind has: its endpoints, and a bounded, policy-checked HTTP client."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import orjson

from rexwatch.errors import Unauthorized, Unavailable
from rexwatch.netpolicy import Refused, guarded_client, policy

# Discovery documents, key sets, tokens and profiles are small; a provider answering more is broken.
MAX_RESPONSE_BYTES = 1 << 20
# Discovery and key sets are cached this long (a key rotation is still picked up at once:
# an ID token signed by an unknown key id makes the key set be fetched again).
METADATA_TTL_S = 3600.0


class ProviderUnavailable(Unavailable):
    """The provider could not be reached or answered something unusable (503)."""

    code = "SsoProviderUnavailable"


class SignInRefused(Unauthorized):
    """The provider's answer does not let this person in (bad token, wrong domain, no role) (401)."""

    code = "SignInRefused"


@dataclass(frozen=True)
class Endpoints:
    authorize: str
    token: str
    userinfo: str = ""
    jwks: str = ""
    issuer: str = ""
    end_session: str = ""
    algorithms: tuple[str, ...] = ("RS256",)


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def check_transport(url: str, what: str) -> None:
    """Tokens and secrets only travel over TLS, except to this machine (a provider run for tests)."""
    if url.startswith("https://") or (url.startswith("http://") and is_loopback_url(url)):
        return
    raise ProviderUnavailable(f"{what} {url!r} must be an https:// URL (plain http is only for loopback addresses)")


class Fetcher:
    """HTTP to one provider: every connection obeys the outbound address policy, no redirects are
    followed, answers are capped at MAX_RESPONSE_BYTES, and every failure names what was asked."""

    def __init__(self, settings: Any, provider: str, timeout_s: float) -> None:
        self.provider = provider
        self.client = guarded_client(policy(settings), timeout=timeout_s, follow_redirects=False)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def json(self, method: str, url: str, what: str, *, oauth_errors: bool = False, **kw: Any) -> Any:
        check_transport(url, what)
        kw.setdefault("headers", {})
        kw["headers"].setdefault("accept", "application/json")
        host = urlsplit(url).netloc
        try:
            async with self.client.stream(method, url, **kw) as r:
                body = bytearray()
                async for chunk in r.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise ProviderUnavailable(f"{what}: the answer of {host} is larger than "
                                                  f"{MAX_RESPONSE_BYTES} bytes")
                status = r.status_code
        except Refused as e:
            raise ProviderUnavailable(f"{what}: {host} is refused by the outbound address policy: {e}")
        except httpx.TimeoutException:
            raise ProviderUnavailable(f"{what}: {host} did not answer in time")
        except httpx.HTTPError as e:
            raise ProviderUnavailable(f"{what}: cannot reach {host}: {e or type(e).__name__}")
        try:
            data = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            data = None
        if not 200 <= status < 300:
            if oauth_errors and isinstance(data, dict) and isinstance(data.get("error"), str):
                # The provider's own words (invalid_grant, invalid_client, ...) say what to fix.
                desc = data.get("error_description")
                detail = data["error"][:100] + (f": {str(desc)[:300]}" if desc else "")
                raise SignInRefused(f"{what}: {self.provider} refused: {detail}")
            raise ProviderUnavailable(f"{what}: {host} answered HTTP {status}")
        if data is None:
            raise ProviderUnavailable(f"{what}: {host} did not answer JSON")
        return data


class ProviderKind:
    """One kind of provider. Instances are kept per configured provider (they cache metadata)."""

    default_scopes: ClassVar[str] = "openid email profile"
    # OIDC binds the ID token to the login with a nonce; plain OAuth 2.0 has none.
    uses_nonce: ClassVar[bool] = False
    token_auth: ClassVar[str] = "client_secret_post"

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self._cache: dict[str, tuple[float, Any]] = {}

    @classmethod
    def missing_settings(cls, cfg: Any) -> list[str]:
        return []

    @property
    def scopes(self) -> str:
        return self.cfg.scopes or self.default_scopes

    def cached(self, key: str) -> Any | None:
        hit = self._cache.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def remember(self, key: str, value: Any) -> Any:
        self._cache[key] = (time.monotonic() + METADATA_TTL_S, value)
        return value

    def forget(self, key: str) -> None:
        self._cache.pop(key, None)

    async def endpoints(self, http: Fetcher) -> Endpoints:
        raise NotImplementedError

    async def claims(self, http: Fetcher, ep: Endpoints, token: dict[str, Any], nonce: str) -> dict[str, Any]:
        """The signed-in person's claims from the token endpoint's answer; must include ``sub``."""
        raise NotImplementedError

"""The gate in front of every door but the AWS one: who may enter, and how much they may send.

Runs as a pure ASGI middleware, before routing reads a byte of the body, so a caller
without a valid key costs only its headers, and no body grows past ``max_body_mb``.
The AWS door (``POST /`` and ``POST /service/...``) answers these questions itself,
in its own error shapes and with SigV4.

What stays reachable without a key when auth is on is the ``public`` setting: a
comma-separated list of the groups in ``PUBLIC_GROUPS``. A few paths are always open
because they carry their own credential (push tokens, SNS confirmation links) or hold
nothing private (static assets).
"""

from __future__ import annotations

import base64
import re

import anyio
import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rexwatch.runtime import Runtime

# Group name -> path pattern. Documented in docs/configuration.md and docs/security.md.
PUBLIC_GROUPS: dict[str, re.Pattern[str]] = {
    "status": re.compile(r"^/(status/[^/]+|badge/[^/]+\.svg)$"),
    "health": re.compile(r"^/health$"),
    "metrics": re.compile(r"^/metrics$"),
    "api_docs": re.compile(r"^/api/v1/(docs|openapi\.json)$"),
    # Every other page: the console (overview, logs, Insights, live tail, alarms).
    "ui": re.compile(r"^/(?!api/|metrics$|health$|status/|badge/)"),
}
DEFAULT_PUBLIC = "status,health"
# Open whatever the setting says: each carries its own proof or holds nothing private.
# The login and first-run setup pages check their own credentials (a password, the setup token);
# the password reset pages a single-use token mailed to the user or handed over by an admin;
# single sign-on starts and callbacks carry their own proof (the provider's code and the state cookie).
ALWAYS_OPEN = re.compile(
    r"^/(static/.*|push/[^/]+|sns/(confirm|unsubscribe)|login|login/2fa|setup|forgot|reset"
    r"|login/sso/[a-z0-9][a-z0-9_-]{0,39}(/callback)?)$"
)
SESSION_COOKIE = "rexwatch_session"

# Sent with every HTML page: no inline script anywhere, no framing, no referrer leaking
# status-page or alarm URLs to other sites. Swagger UI needs data: images.
HTML_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
NOSNIFF = (b"x-content-type-options", b"nosniff")

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# REST-JSON operations the AWS door answers by path (see aws/door.py REST_PATHS).
AWS_REST_PATHS = frozenset({"/ListSinks", "/ListAttachedLinks"})


def is_aws_door(method: str, path: str) -> bool:
    return method == "POST" and (path == "/" or path.startswith("/service/") or path in AWS_REST_PATHS)


def is_public(path: str, public: str) -> bool:
    if ALWAYS_OPEN.match(path):
        return True
    return any(PUBLIC_GROUPS[g].match(path) for g in _groups(public))


def _groups(public: str) -> list[str]:
    return [g for g in (p.strip() for p in public.split(",")) if g in PUBLIC_GROUPS]


def token_from(header: str) -> str | None:
    """The API key in ``Bearer KEY`` or ``Basic base64(any-user:KEY)`` (browsers' login prompt)."""
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            _, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return password or None
    return None


async def _reply(send: Send, status: int, code: str, message: str, path: str, extra: list | None = None) -> None:
    if path.startswith("/api/"):
        body = orjson.dumps({"error": {"code": code, "message": message}})
        ctype = b"application/json"
    else:
        body = f"{status} {code}: {message}\n".encode()
        ctype = b"text/plain; charset=utf-8"
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), NOSNIFF, *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """``own_doors``: paths of doors that authenticate and bound bodies themselves, in their
    protocols' shapes (the telemetry intake); the AWS door is always one."""

    def __init__(self, app: ASGIApp, runtime: Runtime, own_doors: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.runtime = runtime
        self.own_doors = own_doors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_aws_door(scope["method"], scope["path"]) or (
            scope["method"] == "POST" and scope["path"] in self.own_doors
        ):
            await self.app(scope, receive, send)
            return
        settings = self.runtime.settings
        path = scope["path"]
        headers = dict(scope["headers"])
        if settings.auth_enabled and is_public(path, settings.public) and not ALWAYS_OPEN.match(path) and (
                b"authorization" in headers or b"cookie" in headers):
            # A public page still shows a signed-in caller only what its teams may see.
            from rexwatch.services.access import bind

            bind(await anyio.to_thread.run_sync(self._principal, scope, headers))
        if settings.auth_enabled and not is_public(path, settings.public):
            principal = await anyio.to_thread.run_sync(self._principal, scope, headers)
            from rexwatch.services.access import bind

            bind(principal)  # what the caller sees of team-owned log groups and alarms
            if principal is None and await self._send_to_login(scope, headers, send):
                return
            if principal is None:
                # One message for every failure, so responses never hint at which keys exist.
                challenge = b'Bearer realm="rexwatch"' if path.startswith("/api/") else b'Basic realm="rexwatch"'
                message = "a valid API key is required: send 'Authorization: Bearer <key>'"
                if not path.startswith("/api/"):
                    message += ", or sign in at /login"
                await _reply(send, 401, "Unauthorized", message, path, [(b"www-authenticate", challenge)])
                return
            if not path.startswith("/api/"):
                # REST routes are checked once routed (rexwatch.api.auth), knowing their template.
                from rexwatch.errors import Forbidden
                from rexwatch.services.access import authorize, console_action

                try:
                    authorize(principal, console_action(scope["method"], path), f"{scope['method']} {path}")
                except Forbidden as e:
                    await _reply(send, 403, "Forbidden", e.message, path)
                    return
        limit = settings.max_body_bytes
        if scope["method"] in _BODY_METHODS:
            raw = headers.get(b"content-length")
            if raw is not None and (not raw.isdigit() or int(raw) > limit):
                if raw.isdigit():
                    await _reply(send, 413, "PayloadTooLarge", f"request body exceeds {limit} bytes", path)
                else:
                    await _reply(send, 400, "Invalid", "Content-Length is not a number", path)
                return
            receive = _capped(receive, limit)
        state = scope.get("state", {})
        if scope["method"] in _BODY_METHODS and state.get("principal") is not None:
            from rexwatch.api.auditing import Recorder

            recorder = Recorder(scope, receive)
            sent = _with_security_headers(send)

            async def watch(message: Message) -> None:
                if message["type"] == "http.response.start":
                    recorder.status = message["status"]
                await sent(message)

            await self.app(scope, recorder.receive, watch)
            await recorder.finish(self.runtime)
            return
        await self.app(scope, receive, _with_security_headers(send))


    async def _send_to_login(self, scope: Scope, headers: dict[bytes, bytes], send: Send) -> bool:
        """A browser asking for a console page, once users exist, goes to the login page
        (instead of the Basic prompt that API keys in browsers use)."""
        path = scope["path"]
        if path.startswith("/api/") or scope["method"] != "GET" or b"text/html" not in headers.get(b"accept", b""):
            return False
        from urllib.parse import quote

        from rexwatch.services.users import UserService

        if not await anyio.to_thread.run_sync(self.runtime.service(UserService).any_user):
            return False
        target = path + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
        location = "/login?next=" + quote(target, safe="")
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", location.encode()), (b"content-length", b"0"), NOSNIFF]})
        await send({"type": "http.response.body", "body": b""})
        return True

    def _principal(self, scope: Scope, headers: dict[bytes, bytes]):
        from rexwatch.services.teams import TeamService

        principal = resolve_principal(self.runtime, scope, headers)
        if principal is not None and principal.user_id is not None:
            principal = scope["state"]["principal"] = self.runtime.service(TeamService).with_teams(principal)
        return principal


def resolve_principal(runtime: Runtime, scope: Scope, headers: dict[bytes, bytes]):
    """The caller from an API key (bearer or basic) or a console session cookie, or None.
    Leaves the key and the principal in the request state for the routes."""
    from http.cookies import SimpleCookie

    state = scope.setdefault("state", {})
    token = token_from(headers.get(b"authorization", b"").decode("latin-1"))
    if token:
        key = runtime.keys.verify_bearer(token)
        if key is None:
            return None
        state["api_key"] = key
        state["principal"] = key.principal()
        return state["principal"]
    proxy_header = runtime.settings.proxy_auth_header
    if proxy_header:
        named = headers.get(proxy_header.lower().encode())
        if named:
            from rexwatch.services.sso.proxy import ProxyAuth

            peer = scope.get("rexwatch.peer") or scope.get("client")
            principal = runtime.service(ProxyAuth).principal(
                peer[0] if peer else None, named.decode("latin-1").strip(),
                user_agent=headers.get(b"user-agent", b"").decode("latin-1"))
            if principal is not None:
                state["principal"] = principal
                return principal
    raw = headers.get(b"cookie")
    if not raw:
        return None
    try:
        morsel = SimpleCookie(raw.decode("latin-1")).get(SESSION_COOKIE)
    except Exception:  # a malformed Cookie header is no session
        return None
    if morsel is None:
        return None
    from rexwatch.services.users import UserService

    principal = runtime.service(UserService).session(morsel.value)
    if principal is not None:
        state["principal"] = principal
    return principal


def _with_security_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            headers.append(NOSNIFF)
            if ctype.startswith(b"text/html"):
                headers.extend(HTML_HEADERS)
            message["headers"] = headers
        await send(message)

    return wrapped


def _capped(receive: Receive, limit: int) -> Receive:
    """A receive that fails with 413 once the body (chunked, say) passes ``limit``."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"request body exceeds {limit} bytes")
        return message

    return wrapped

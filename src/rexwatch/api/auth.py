"""Bearer API-key authentication for /api/v1."""

from __future__ import annotations

from fastapi import Request

from rexwatch.errors import Forbidden, Unauthorized
from rexwatch.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def require_api_key(request: Request) -> None:
    """Dependency on every /api/v1 route: checks the bearer key when auth is on.

    The guard middleware has normally checked it before the body was read and left the
    key in the request state; checking here as well keeps a route safe on its own.
    """
    runtime: Runtime = request.app.state.runtime
    if not runtime.settings.auth_enabled or request.scope.get("state", {}).get("api_key") is not None:
        return
    from rexwatch.api.guard import token_from

    token = token_from(request.headers.get("authorization", ""))
    key = runtime.keys.verify_bearer(token) if token else None
    # One message for every failure, so responses never hint at which keys exist.
    if key is None:
        raise Unauthorized("a valid API key is required: send 'Authorization: Bearer <key>'")
    request.scope.setdefault("state", {})["api_key"] = key


def require_admin(request: Request) -> None:
    """Dependency of key management: only an admin key may mint or revoke keys.

    With auth off (loopback only) there is no caller identity, and the machine's user
    could run ``rexwatch keys`` anyway.
    """
    require_api_key(request)
    runtime: Runtime = request.app.state.runtime
    if not runtime.settings.auth_enabled:
        return
    key = request.scope["state"]["api_key"]
    if key.role != "admin":
        raise Forbidden(f"key {key.prefix} has role {key.role!r}: managing keys needs an admin key")

"""Bearer API-key authentication for /api/v1."""

from __future__ import annotations

from fastapi import Request

from rexwatch.errors import Unauthorized
from rexwatch.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def require_api_key(request: Request) -> None:
    """Dependency on every /api/v1 route: checks the bearer key when auth is on."""
    runtime: Runtime = request.app.state.runtime
    if not runtime.settings.auth_enabled:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    # One message for every failure, so responses never hint at which keys exist.
    if scheme.lower() != "bearer" or not token or runtime.keys.verify_bearer(token.strip()) is None:
        raise Unauthorized("a valid API key is required: send 'Authorization: Bearer <key>'")

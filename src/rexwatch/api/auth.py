"""Bearer API-key authentication for /api/v1."""

from __future__ import annotations

from fastapi import Request

from rexwatch.errors import Unauthorized
from rexwatch.runtime import Runtime
from rexwatch.services.access import Principal, authorize, rest_action


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


API_PREFIX = "/api/v1"


def require_api_key(request: Request) -> None:
    """Dependency on every /api/v1 route: who is calling, and may they call this route.

    The guard middleware has normally found the caller (an API key or a console session)
    before the body was read and left it in the request state; checking here as well keeps a
    route safe on its own. The permission comes from the route's template and method through
    rexwatch.services.access, the one place every door asks.
    """
    runtime: Runtime = request.app.state.runtime
    if not runtime.settings.auth_enabled:
        return
    state = request.scope.setdefault("state", {})
    principal = state.get("principal")
    if principal is None:
        from rexwatch.api.guard import token_from

        token = token_from(request.headers.get("authorization", ""))
        key = runtime.keys.verify_bearer(token) if token else None
        # One message for every failure, so responses never hint at which keys exist.
        if key is None:
            raise Unauthorized("a valid API key is required: send 'Authorization: Bearer <key>'")
        state["api_key"] = key
        principal = state["principal"] = key.principal()
    route = request.scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None) or request.url.path
    if not template.startswith(API_PREFIX):  # routes of included routers carry their own prefix only
        template = API_PREFIX + template
    authorize(principal, rest_action(request.method, template), f"{request.method} {template}")


def principal_of(request: Request) -> Principal | None:
    """The caller of a request (None with auth off)."""
    return request.scope.get("state", {}).get("principal")


def require_admin(request: Request) -> None:
    """Dependency of pages that manage keys and settings outside /api/v1 (the console's settings
    page): the caller must hold the admin permission, whatever the ``public`` setting opens."""
    runtime: Runtime = request.app.state.runtime
    if not runtime.settings.auth_enabled:
        return
    if not request.url.path.startswith(API_PREFIX):
        principal = principal_of(request)
        if principal is None:  # a public console: the gate asked nobody, so ask here
            from rexwatch.api.guard import resolve_principal

            principal = resolve_principal(runtime, request.scope, dict(request.scope["headers"]))
        if principal is None:
            raise Unauthorized("a valid API key or console session is required")
        authorize(principal, "admin", f"{request.method} {request.url.path}")
        return
    require_api_key(request)

"""ASGI middleware (Starlette, FastAPI and any ASGI app); imports neither framework.

    app.add_middleware(RexwatchMiddleware, health=Health({...}))

Reads or creates ``X-Request-ID`` and echoes it, keeps the request in the
contextvar the log handler reads, records the ALB-named metrics under the
route template (Starlette puts the matched route in ``scope["route"]``) and
writes the request's line. ``health=`` answers ``health_path`` (``/health``)
before the app sees it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from rexwatch.sdk import state
from rexwatch.sdk.context import RequestContext, _current, clean_request_id, trace_id_of
from rexwatch.sdk.health import Health
from rexwatch.sdk.requests import finish, start

Scope = MutableMapping[str, Any]
_set_current = _current.set
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


# Route object (and mount prefix) -> its template: computed once per route, not per request.
_TEMPLATES: dict[tuple[Any, str], str | None] = {}
_MAX_TEMPLATES = 10_000


def route_template(scope: Scope) -> str | None:
    """The matched route's template (Starlette puts the route in ``scope["route"]``), mount prefix included."""
    r = scope.get("route")
    if r is None:
        return None
    # Under a Mount the route's path is relative to it: the mount's prefix is in root_path.
    root = scope.get("root_path", "")
    key = (r, root)
    try:
        return _TEMPLATES[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable route object: work it out each time
        key = None  # type: ignore[assignment]
    path = getattr(r, "path", None)
    if path is not None:
        mounted = root[len(scope.get("app_root_path", "")):]
        path = mounted + path if mounted and not path.startswith(mounted) else path
    if key is not None and len(_TEMPLATES) < _MAX_TEMPLATES:
        _TEMPLATES[key] = path
    return path


def _route_of(scope: Scope) -> Callable[[], str | None]:
    return lambda: route_template(scope)


class RexwatchMiddleware:
    def __init__(self, app: ASGIApp, *, health: Health | None = None, health_path: str = "/health") -> None:
        self.app = app
        self.health = health
        self.health_path = health_path
        self._loop_watched = False

    def _watch_loop(self) -> None:
        """The first request tells us the app's loop: watch its lag if runtime metrics are on."""
        self._loop_watched = True
        from rexwatch.sdk import core
        from rexwatch.sdk.profiling import register_loop
        from rexwatch.sdk.runtime import RuntimeMetrics

        register_loop(asyncio.get_running_loop())
        sdk = core.get()
        for extra in sdk.extras if sdk is not None else ():
            if isinstance(extra, RuntimeMetrics):
                extra.watch_event_loop()

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._loop_watched:
            self._watch_loop()
        incoming = traceparent = tracestate = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"traceparent":
                traceparent = value.decode("latin-1")
            elif name == b"tracestate":
                tracestate = value.decode("latin-1")
        path = scope.get("path", "")
        sdk = state.sdk
        if sdk is not None and sdk.tracing is None and sdk.sampler_off:
            # The common case, inline: no span, no sampling rule that needs the route mid-request.
            ctx = RequestContext(clean_request_id(incoming), scope.get("method", "GET"), path, None)
            if traceparent:
                ctx.trace_id = trace_id_of(traceparent)
            ctx.token = _set_current(ctx)
        else:
            ctx = start(scope.get("method", "GET"), path, incoming, _route_of(scope), traceparent, tracestate)
        rid = ctx.request_id.encode()
        status = 500
        started = _clock()

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid)]
            await send(message)

        try:
            if self.health is not None and path == self.health_path:
                ctx.route = self.health_path
                await self.health.asgi(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        except BaseException as e:
            if ctx.route is None:
                ctx.route = route_template(scope)
            finish(ctx, 500, _clock() - started, e)
            raise
        if ctx.route is None:
            ctx.route = route_template(scope)
        finish(ctx, status, _clock() - started)


_clock = time.perf_counter

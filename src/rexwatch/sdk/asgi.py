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
from rexwatch.sdk.context import ID_OK_BYTES, RequestContext, _current, new_request_id, trace_id_of
from rexwatch.sdk.health import Health
from rexwatch.sdk.requests import UNMATCHED, access_line, finish, start

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
_set_current = _current.set
_reset_current = _current.reset
_id_ok = ID_OK_BYTES.fullmatch
_clock = time.perf_counter


def route_template(scope: Scope) -> str | None:
    """The matched route's template (Starlette puts the route in ``scope["route"]``), mount prefix included."""
    r = scope.get("route")
    if r is None:
        return None
    path = getattr(r, "path", None)
    # Under a Mount the route's path is relative to it: the mount's prefix is what root_path has
    # beyond the app's own root.
    root = scope.get("root_path")
    if path is not None and root:
        mounted = root[len(scope.get("app_root_path", "")):]
        if mounted and not path.startswith(mounted):
            path = mounted + path
    return path


def _failed(ctx: RequestContext, scope: Scope, started: float, e: BaseException) -> None:
    """The app raised: the request counts as a 500 under its route, with the exception on its line."""
    if ctx.route is None:
        ctx.route = route_template(scope)
    finish(ctx, 500, _clock() - started, e)


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
        sdk = state.sdk
        if (sdk is None or sdk.tracing is not None or not sdk.sampler_off
                or (self.health is not None and scope.get("path") == self.health_path)):
            await self._general(scope, receive, send)
            return
        # The common request (no span, no sampling rule that needs the route mid-request) inline: every
        # call and object here is paid on each request of the app.
        incoming = traceparent = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value
            elif name == b"traceparent":
                traceparent = value
        if incoming is not None and _id_ok(incoming):
            rid_bytes = incoming
            rid = incoming.decode("ascii")
        else:
            rid = new_request_id()
            rid_bytes = rid.encode()
        ctx = RequestContext(rid, scope.get("method", "GET"), scope.get("path", ""), None)
        if traceparent:
            ctx.trace_id = trace_id_of(traceparent.decode("latin-1"))
        token = ctx.token = _set_current(ctx)

        # A plain function handing back send's awaitable: no coroutine of our own per message.
        def send_with_id(message: Any) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                ctx.status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid_bytes)]
            return send(message)

        started = _clock()
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as e:
            _failed(ctx, scope, started, e)
            raise
        seconds = _clock() - started
        try:
            status = ctx.status or 500  # no response started: the server answers 500
            route = ctx.route or route_template(scope) or UNMATCHED
            sdk.request_metrics.record(route, status, seconds)
            if sdk.config.access_log:
                ctx.status = status
                access_line(sdk, ctx, route, status, seconds)
        except Exception:  # counting must never fail a request
            pass
        ctx.token = None
        try:
            _reset_current(token)
        except ValueError:  # reset from another context (the app hopped tasks): clear instead
            _set_current(None)

    async def _general(self, scope: Scope, receive: Callable, send: Callable) -> None:
        """Tracing, sampling rules, the health endpoint or no SDK configured: the shared start/finish."""
        incoming = traceparent = tracestate = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"traceparent":
                traceparent = value.decode("latin-1")
            elif name == b"tracestate":
                tracestate = value.decode("latin-1")
        path = scope.get("path", "")
        ctx = start(scope.get("method", "GET"), path, incoming, _route_of(scope), traceparent, tracestate)
        rid = ctx.request_id.encode()
        status = 500
        started = _clock()

        def send_with_id(message: Any) -> Awaitable[None]:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid)]
            return send(message)

        try:
            if self.health is not None and path == self.health_path:
                ctx.route = self.health_path
                await self.health.asgi(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        except BaseException as e:
            _failed(ctx, scope, started, e)
            raise
        if ctx.route is None:
            ctx.route = route_template(scope)
        finish(ctx, status, _clock() - started)

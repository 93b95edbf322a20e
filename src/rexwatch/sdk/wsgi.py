"""WSGI middleware (Flask and any WSGI app); imports no framework.

    app.wsgi_app = RexwatchWSGIMiddleware(app.wsgi_app, flask_app=app, health=Health({...}))

With ``flask_app`` it learns each request's route template (``/items/<int:id>``)
from Flask's URL rule; without it, requests count under ``route_of(environ)``
or ``UNMATCHED``: never under raw paths.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from rexwatch.sdk import context
from rexwatch.sdk.context import RequestContext
from rexwatch.sdk.health import Health
from rexwatch.sdk.requests import finish, start


class _Body:
    """The app's response iterable; the request ends (and is counted) when the server closes it."""

    def __init__(self, result: Iterable[bytes], done: Callable[[], None]) -> None:
        self.result = result
        self.done = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.result)

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.done()


class RexwatchWSGIMiddleware:
    def __init__(self, app: Callable, *, flask_app: Any = None, health: Health | None = None,
                 health_path: str = "/health", route_of: Callable[[dict], str | None] | None = None) -> None:
        self.app = app
        self.health = health
        self.health_path = health_path
        self.route_of = route_of
        if flask_app is not None:
            flask_app.before_request(_flask_route)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        route_of = (lambda: self.route_of(environ)) if self.route_of else None
        ctx = start(environ.get("REQUEST_METHOD", "GET"), path, environ.get("HTTP_X_REQUEST_ID"), route_of,
                    environ.get("HTTP_TRACEPARENT"), environ.get("HTTP_TRACESTATE"))
        started = time.perf_counter()
        status = [500]

        def start_with_id(status_line: str, headers: list, exc_info: Any = None) -> Any:
            try:
                status[0] = int(status_line[:3])
            except ValueError:
                pass
            return start_response(status_line, [*headers, ("X-Request-ID", ctx.request_id)], exc_info)

        done = False

        def end() -> None:
            nonlocal done
            if not done:
                done = True
                finish(ctx, status[0], time.perf_counter() - started)

        try:
            if self.health is not None and path == self.health_path:
                ctx.route = self.health_path
                result = self.health.wsgi(environ, start_with_id)
            else:
                result = self.app(environ, start_with_id)
        except BaseException as e:
            finish(ctx, 500, time.perf_counter() - started, e)
            raise
        return _Body(result, end)


def _flask_route() -> None:
    from flask import request

    ctx: RequestContext | None = context.current()
    if ctx is not None and request.url_rule is not None:
        ctx.route = request.url_rule.rule

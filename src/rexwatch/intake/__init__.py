"""Telemetry intake doors: OpenTelemetry (OTLP/HTTP) and Prometheus remote_write.

Each module here is one protocol's front door. It decodes the wire format with
the protocol's official message definitions, maps what it reads onto the
typed objects the logs and metrics services take, and answers in the
protocol's own success and error shapes. Adding a protocol is one module with
an ``ROUTES`` tuple of ``(path, handler factory)`` and one line below.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DOORS: tuple[str, ...] = (
    "rexwatch.intake.otlp_logs",
    "rexwatch.intake.otlp_metrics",
    "rexwatch.intake.otlp_traces",
    "rexwatch.intake.prom_remote_write",
)


def endpoints(runtime: Any) -> dict[str, Callable[[Request], Awaitable[Response]]]:
    """Every intake path's endpoint, made once per app. They authenticate (API key or X-Api-Key)
    and bound bodies themselves, answering in their protocols' shapes, so the gate in
    api/guard.py lets them through."""
    out = {}
    for dotted in DOORS:
        for path, make in importlib.import_module(dotted).ROUTES:
            out[path] = make(runtime)
    return out


def install(app: Any, endpoints: dict[str, Callable[[Request], Awaitable[Response]]]) -> None:
    """Add every intake door's POST routes to ``app`` (``IntakeRoutes`` answers them first; the
    framework's routes give other methods their 405 and list the paths with the app's routes)."""
    for path, endpoint in endpoints.items():
        app.add_api_route(path, endpoint, methods=["POST"], include_in_schema=False)


class IntakeRoutes:
    """ASGI middleware: a POST to an intake path, or to the AWS door's, goes straight to its door.

    Telemetry senders post hundreds of requests a second, and the framework's
    route matching, dependency solving and exception middleware cost as much
    per request as a small batch's decoding. The doors need none of them: each
    reads and bounds its own body, authenticates, and answers every error in
    its protocol's shape. The request still passes the middleware outside this
    one (request ids, the access log and request metrics), which sees the
    route as it would from the router. The AWS door (``aws_door``) is one of them: SDKs batch
    1,000 metric data or 10,000 log events in a call, and it answers every error in its own shapes.
    """

    def __init__(self, app: Any, endpoints: dict[str, Callable[[Request], Awaitable[Response]]],
                 aws_door: Callable[[Request], Awaitable[Response]] | None = None) -> None:
        from rexwatch.aws.door import ROUTE_PATHS, route_path

        self.app = app
        self.aws_route_path = route_path
        self.routes = {path: Route(path, endpoint, methods=["POST"]) for path, endpoint in endpoints.items()}
        self.aws_routes = {path: Route(path, aws_door, methods=["POST"]) for path in ROUTE_PATHS} if aws_door else {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            route = self.routes.get(scope["path"])
            if route is None and self.aws_routes:
                template = self.aws_route_path(scope["path"])
                route = self.aws_routes.get(template) if template else None
            if route is not None:
                scope["route"] = route
                response = await route.endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


OTLP_PATHS = frozenset(("/v1/logs", "/v1/metrics", "/v1/traces"))


class OtlpPortOnly:
    """ASGI middleware: on the OTLP port (``otlp_port``), answer only the OTLP paths.

    One server listens on both ports, so the OTLP port can be opened to
    collectors without opening the console, the REST API or the AWS doors on it.
    """

    def __init__(self, app: Any, port: int) -> None:
        self.app = app
        self.port = port

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        server = scope.get("server")
        if scope["type"] == "http" and server and server[1] == self.port and scope["path"] not in OTLP_PATHS:
            body = b"only /v1/logs, /v1/metrics and /v1/traces are served on the OTLP port"
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

"""Telemetry intake doors: OpenTelemetry (OTLP/HTTP) and Prometheus remote_write.

Each module here is one protocol's front door. It decodes the wire format with
the protocol's official message definitions, maps what it reads onto the
typed objects the logs and metrics services take, and answers in the
protocol's own success and error shapes. Adding a protocol is one module with
an ``ROUTES`` tuple of ``(path, handler factory)`` and one line below.
"""

from __future__ import annotations

import importlib
from typing import Any

DOORS: tuple[str, ...] = (
    "rexwatch.intake.otlp_logs",
    "rexwatch.intake.otlp_metrics",
    "rexwatch.intake.otlp_traces",
    "rexwatch.intake.prom_remote_write",
)


def paths() -> frozenset[str]:
    """Every intake route: they authenticate (API key or X-Api-Key) and bound bodies themselves,
    answering in their protocols' shapes, so the gate in api/guard.py lets them through."""
    return frozenset(path for dotted in DOORS for path, _ in importlib.import_module(dotted).ROUTES)


def install(app: Any, runtime: Any) -> None:
    """Add every intake door's POST routes to ``app``."""
    for dotted in DOORS:
        module = importlib.import_module(dotted)
        for path, make in module.ROUTES:
            app.add_api_route(path, make(runtime), methods=["POST"], include_in_schema=False)


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

"""Request ids, the access log and request metrics, as one pure ASGI middleware."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rexwatch.selfmetrics import ServerMetrics

access_log = logging.getLogger("rexwatch.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# Metric labels come only from fixed sets, so no request can add a label value.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# nginx's "client closed request": the client left before the answer was sent.
CLIENT_CLOSED = 499


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        # Honour the client's id when it is sane; otherwise make one.
        request_id = incoming if _VALID_ID.match(incoming) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        responded = False
        disconnected = False

        async def receive_wrapper() -> Message:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect" and not responded:
                disconnected = True
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status = message["status"]
                responded = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        finally:
            # Whatever was answered to a client that left mid-request (FastAPI makes it a 400,
            # the AWS door a 499) is counted as the client's leaving, never as a server error.
            if disconnected or scope.get("state", {}).get("client_disconnected"):
                status = CLIENT_CLOSED
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            if scope["path"].startswith("/api/v1/") and not route_path.startswith("/api/v1"):
                route_path = "/api/v1" + route_path
            op = scope.get("state", {}).get("aws_operation")
            if op:
                route_path = f"aws:{op}"
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            self.metrics.requests.labels(method, route_path, str(status)).inc()
            self.metrics.latency.labels(route_path).observe(elapsed)
            sink = self.metrics.request_sink
            if sink is not None:
                sink(scope["method"], scope["path"], status, elapsed, route_path, request_id)
            # One line per request is routine (the request log in the server's own store has every
            # request): debug, except server errors, which an operator must see.
            access_log.log(
                logging.WARNING if status >= 500 else logging.DEBUG,
                "%s %s %s %.1fms",
                scope["method"],
                scope["path"],
                status,
                elapsed * 1000,
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "route": route_path,
                },
            )

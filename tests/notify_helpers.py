"""Real receivers for notification tests: HTTP endpoints (Slack, webhooks, PagerDuty…) and an SMTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rexwatch.testing import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local HTTP receiver. ``behaviour(n, request) -> (status, delay_s)`` decides each answer
    (n counts requests from 1); by default every request gets 200 at once."""

    behaviour: Callable[[int, Received], tuple[int, float]] = lambda n, r: (200, 0.0)
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.arrived = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                req = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                with receiver.arrived:
                    receiver.requests.append(req)
                    n = len(receiver.requests)
                    receiver.arrived.notify_all()
                status, delay = receiver.behaviour(n, req)
                if delay:
                    receiver._closing.wait(delay)  # bounded; released when the receiver closes
                # Error bodies echo the request, like careless receivers do: secrets must still not leak.
                body = b"ok" if status < 400 else b"nope: " + self.path.encode() + b" " + req.body[:300]
                try:
                    self.send_response(status)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
                self.arrived.wait(left)
            return list(self.requests)

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """An aiosmtpd server on 127.0.0.1 keeping every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        self._cv = threading.Condition()
        box = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                import email
                from email import policy

                msg = email.message_from_bytes(envelope.content, policy=policy.default)
                with box._cv:
                    box.messages.append(msg)
                    box._cv.notify_all()
                return "250 Message accepted for delivery"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._cv:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} mails, got {len(self.messages)}")
                self._cv.wait(left)
            return list(self.messages)

    def close(self) -> None:
        self.controller.stop()


def deliver_all(runtime: Any, timeout: float = 60.0, until: Callable[[], bool] | None = None) -> None:
    """Run the dispatcher until nothing is due (or ``until()`` holds), like the notify worker would."""
    import asyncio

    from rexwatch.services.notify.delivery import Dispatcher

    async def go() -> None:
        d = Dispatcher(runtime)
        deadline = time.monotonic() + timeout
        async with d.new_client() as http:
            while time.monotonic() < deadline:
                n = await d.run_once(http)
                if until is not None and until():
                    return
                if n == 0 and until is None:
                    return
                if n == 0:
                    await asyncio.sleep(0.05)

    asyncio.run(go())

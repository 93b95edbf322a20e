"""A health endpoint builder: checks are plain callables, run concurrently with timeouts, cached briefly.

The answer is the runbook's JSON, with one key per check::

    {"status": "healthy", "timestamp": 1732530000, "version": "1.4.2", "database": "up", "redis": "up"}

200 when every check is up; 503 and ``"unhealthy"`` when any is down. A check is
up when it returns without raising (a returned ``False`` counts as down) within
its timeout. A check still running from an earlier call is not started again,
so a hung database costs one thread, not one per probe.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

Check = Callable[[], Any]


class Health:
    def __init__(self, checks: dict[str, Check] | None = None, *, version: str | None = None,
                 timeout: float = 2.0, cache_seconds: float = 1.0) -> None:
        self.checks: dict[str, Check] = dict(checks or {})
        for name in self.checks:
            if name in ("status", "timestamp", "version"):
                raise ValueError(f"a check cannot be named {name!r}: the answer uses that key")
        self.version = version if version is not None else os.environ.get("APP_VERSION", "")
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.checks)), thread_name_prefix="rexwatch-health")
        self._running: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._cached: tuple[float, int, dict[str, Any]] | None = None

    def add(self, name: str, check: Check) -> Health:
        self.checks[name] = check
        self._pool = ThreadPoolExecutor(max_workers=len(self.checks), thread_name_prefix="rexwatch-health")
        return self

    @staticmethod
    def _call(check: Check) -> bool:
        result = check()
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        return result is not False

    def run(self) -> tuple[int, dict[str, Any]]:
        """(status code, body). Blocks up to ``timeout``; answers from the cache within ``cache_seconds``."""
        with self._lock:
            now = time.monotonic()
            if self._cached and now - self._cached[0] < self.cache_seconds:
                return self._cached[1], dict(self._cached[2])
            futures = {}
            for name, check in self.checks.items():
                running = self._running.get(name)
                if running is not None and not running.done():
                    futures[name] = running
                else:
                    futures[name] = self._running[name] = self._pool.submit(self._call, check)
            deadline = now + self.timeout
            results: dict[str, str] = {}
            for name, fut in futures.items():
                try:
                    ok = fut.result(timeout=max(0.0, deadline - time.monotonic()))
                except FutureTimeout:
                    ok = False
                except Exception:
                    ok = False
                results[name] = "up" if ok else "down"
            healthy = all(v == "up" for v in results.values())
            body = {"status": "healthy" if healthy else "unhealthy", "timestamp": int(time.time()),
                    "version": self.version, **results}
            code = 200 if healthy else 503
            self._cached = (time.monotonic(), code, body)
            return code, dict(body)

    def response(self) -> tuple[int, bytes]:
        code, body = self.run()
        return code, json.dumps(body).encode()

    # Mounts: one per framework, importing nothing of it. ----------------------------------------------

    async def asgi(self, scope: dict, receive: Callable, send: Callable) -> None:
        """An ASGI app answering the health JSON: ``app.mount("/health", health.asgi)`` or the middleware's
        ``health=`` argument."""
        if scope["type"] != "http":
            return
        code, payload = await asyncio.get_running_loop().run_in_executor(None, self.response)
        await send({"type": "http.response.start", "status": code,
                    "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-store"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    def wsgi(self, environ: dict, start_response: Callable) -> list[bytes]:
        code, payload = self.response()
        start_response(f"{code} {'OK' if code == 200 else 'Service Unavailable'}",
                       [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                        ("Content-Length", str(len(payload)))])
        return [payload]

    def flask_view(self) -> Any:
        """``app.add_url_rule("/health", view_func=health.flask_view)``."""
        from flask import Response

        code, payload = self.response()
        return Response(payload, status=code, mimetype="application/json", headers={"Cache-Control": "no-store"})

    def django_view(self, request: Any) -> Any:
        """``path("health", health.django_view)``."""
        from django.http import HttpResponse

        code, payload = self.response()
        resp = HttpResponse(payload, status=code, content_type="application/json")
        resp["Cache-Control"] = "no-store"
        return resp


async def _await(awaitable: Any) -> Any:
    return await awaitable


# Ready-made checks; duck-typed so the SDK imports no driver. ----------------------------------------------

def tcp_check(host: str, port: int, timeout: float = 1.0) -> Check:
    """Up when a TCP connection opens."""
    def check() -> bool:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    return check


def sqlalchemy_check(engine: Any) -> Check:
    """``SELECT 1`` through a SQLAlchemy engine's pool."""
    def check() -> bool:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    return check


def psycopg_check(dsn: str, timeout: float = 2.0) -> Check:
    """``SELECT 1`` on a new psycopg (3) connection."""
    def check() -> bool:
        import psycopg

        with psycopg.connect(dsn, connect_timeout=max(1, int(timeout))) as conn:
            conn.execute("SELECT 1")
        return True
    return check


def redis_check(client: Any) -> Check:
    """``PING`` through a redis-py client (sync or asyncio)."""
    def check() -> Any:
        return client.ping()
    return check

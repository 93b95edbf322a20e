"""The rexwatch SDK for applications: installs with ``pip install rexwatch`` alone.

It must never import the server's dependencies (chdb, FastAPI, SQLAlchemy);
a test imports it with those blocked. The core needs only the standard library
and httpx; each framework integration (``rexwatch.sdk.asgi``, ``.wsgi``,
``.django``) is a separate module importing only its own framework.

    import rexwatch.sdk as rw
    rw.configure(service="utm-api", namespace="UTM/Application")
    rw.put_metric("TenantCreated", 1, "Count")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rexwatch.sdk.auditing import audit
from rexwatch.sdk.config import Config
from rexwatch.sdk.context import request_id
from rexwatch.sdk.core import SDK, configure, get, shutdown
from rexwatch.sdk.logs import JsonFormatter, RexwatchHandler, structlog_processor
from rexwatch.sdk.metrics import Counter, Timer
from rexwatch.sdk.runtime import track_pool


def put_metric(name: str, value: float, unit: str = "None", dimensions: Mapping[str, Any] | None = None,
               namespace: str | None = None) -> None:
    """Record one value; it leaves in the next flush as part of a statistic set. A no-op before configure()."""
    sdk = get()
    if sdk is not None:
        sdk.metrics.put_metric(name, value, unit, dimensions, namespace)


def counter(name: str, dimensions: Mapping[str, Any] | None = None, namespace: str | None = None) -> Counter:
    sdk = _need()
    return sdk.metrics.counter(name, dimensions, namespace)


def timer(name: str, dimensions: Mapping[str, Any] | None = None, namespace: str | None = None) -> Timer:
    sdk = _need()
    return sdk.metrics.timer(name, dimensions, namespace)


def traceparent() -> str | None:
    """The current request's W3C ``traceparent`` (its span while tracing is on), to pass to other services."""
    sdk = get()
    if sdk is not None and sdk.tracing is not None:
        return sdk.tracing.traceparent()
    from rexwatch.sdk.context import current

    ctx = current()
    if ctx is not None and ctx.trace_id and ctx.span_id:
        return f"00-{ctx.trace_id}-{ctx.span_id}-01"
    return None


def flush(timeout: float = 5.0) -> bool:
    """Send what is buffered now, waiting up to ``timeout`` seconds; True when everything went out."""
    sdk = get()
    if sdk is None:
        return True
    spans_ok = True
    if sdk.tracing is not None:
        spans_ok = bool(sdk.tracing.provider.force_flush(int(timeout * 1000)))
    return sdk.sender.flush(timeout) and spans_ok


def stats() -> dict[str, Any]:
    """Counters of sent, dropped and failed lines and metrics (drops are counted, never raised)."""
    sdk = get()
    return sdk.sender.stats.as_dict() if sdk is not None else {}


def _need() -> SDK:
    sdk = get()
    if sdk is None:
        raise RuntimeError("call rexwatch.sdk.configure() first")
    return sdk


__all__ = ["SDK", "Config", "Counter", "JsonFormatter", "RexwatchHandler", "Timer", "audit", "configure", "counter",
           "flush", "get", "put_metric", "request_id", "shutdown", "stats", "structlog_processor", "timer",
           "traceparent", "track_pool"]

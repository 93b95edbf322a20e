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

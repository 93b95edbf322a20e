"""``configure()``: one call wires the sender, the log handler, request metrics and sampling."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from rexwatch.sdk import state
from rexwatch.sdk.config import Config
from rexwatch.sdk.context import Sampler
from rexwatch.sdk.exporters import make_exporter
from rexwatch.sdk.logs import RexwatchHandler
from rexwatch.sdk.metrics import MetricsClient
from rexwatch.sdk.requests import RequestMetrics
from rexwatch.sdk.sender import Sender


class SDK:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.sender = Sender(config, make_exporter(config))
        self.sampler = Sampler(config.sample_rates, config.default_sample_rate)
        # No rule and no default below 1: every request is kept, decided before it starts.
        self.sampler_off = not config.sample_rates and config.default_sample_rate >= 1.0
        self.metrics = MetricsClient(self.sender.aggregator, config.namespace)
        self.request_metrics = RequestMetrics(config)
        self.sender.aggregator.sources.append(self.request_metrics.drain)
        self.sender.aggregator.source_resets.append(self.request_metrics.reset)
        self.sender.aggregator.source_folds.append(self.request_metrics.fold)
        self.handler: RexwatchHandler | None = None
        self.tracing: Any = None  # rexwatch.sdk.tracing.Tracing while tracing is on
        self.extras: list[Any] = []  # runtime collectors, profiling server: stopped on shutdown

    def shutdown(self, timeout: float | None = None) -> bool:
        for extra in self.extras:
            try:
                extra.stop()
            except Exception:
                pass
        if self.handler is not None:
            logging.getLogger().removeHandler(self.handler)
        if self.tracing is not None:
            try:
                self.tracing.shutdown()
            except Exception:
                pass
        return self.sender.shutdown(timeout)


_lock = threading.Lock()


def get() -> SDK | None:
    return state.sdk


def configure(*, logging_level: int | str | None = logging.INFO, runtime_metrics: float | None = None,
              profiling_port: int | None = None, profiling_host: str = "127.0.0.1",
              profiling_token: str | None = None, tracer_provider: Any = None, **settings: Any) -> SDK:
    """Set up the SDK for this process; settings not given come from ``REXWATCH_*`` variables.

    ``logging_level``: attach the shipping handler to the root logger at this level (None: don't).
    ``runtime_metrics``: publish process metrics every this many seconds (None: off;
    ``REXWATCH_RUNTIME_METRICS``).
    ``profiling_port``: serve on-demand profiles there (None: off; ``REXWATCH_PROFILING_PORT``,
    ``REXWATCH_PROFILING_TOKEN``).
    ``tracing=True`` (``REXWATCH_TRACING=1``): a span per request through the OpenTelemetry SDK, sent
    over OTLP/HTTP to ``<endpoint>/v1/traces``; ``tracer_provider=`` uses the app's own provider instead.
    Calling it again replaces the previous setup (after flushing it).
    """
    config = Config.from_env(**settings)
    env = os.environ
    if runtime_metrics is None and env.get("REXWATCH_RUNTIME_METRICS"):
        runtime_metrics = float(env["REXWATCH_RUNTIME_METRICS"])
    if profiling_port is None and env.get("REXWATCH_PROFILING_PORT"):
        profiling_port = int(env["REXWATCH_PROFILING_PORT"])
    profiling_token = profiling_token or env.get("REXWATCH_PROFILING_TOKEN") or None
    with _lock:
        old, state.sdk = state.sdk, None
        if old is not None:
            old.shutdown()
        sdk = SDK(config)
        if config.tracing or tracer_provider is not None:
            from rexwatch.sdk.tracing import Tracing

            sdk.tracing = Tracing(config, tracer_provider)
        if logging_level is not None:
            sdk.handler = RexwatchHandler()
            root = logging.getLogger()
            root.addHandler(sdk.handler)
            level = logging.getLevelName(logging_level) if isinstance(logging_level, str) else logging_level
            if root.level == logging.NOTSET or root.level > level:
                root.setLevel(level)
        if runtime_metrics:
            from rexwatch.sdk.runtime import RuntimeMetrics

            sdk.extras.append(RuntimeMetrics(sdk, runtime_metrics).start())
        if profiling_port is not None:
            from rexwatch.sdk.profiling import ProfilingServer

            sdk.extras.append(ProfilingServer(profiling_port, profiling_host, profiling_token).start())
        state.sdk = sdk
    sdk.sender.ensure_started()
    return sdk


def shutdown(timeout: float | None = None) -> bool:
    """Flush within ``timeout`` seconds and stop sending."""
    with _lock:
        sdk, state.sdk = state.sdk, None
    return sdk.shutdown(timeout) if sdk is not None else True

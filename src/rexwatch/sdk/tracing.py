"""Request spans through the OpenTelemetry SDK, when tracing is on (``configure(tracing=True)``).

The OpenTelemetry SDK is optional (``pip install 'rexwatch[otlp]'``): the SDK's core
never imports it, and turning tracing on without it fails at ``configure()`` with
what to install. Each request gets a ``SERVER`` span, a child of the caller's W3C
``traceparent`` when there is one, named ``METHOD route-template`` and carrying the
HTTP semantic-convention attributes; the span is the current OpenTelemetry span
while the app runs, so the app's own spans (``trace.get_tracer(...)``) nest under
it, and its trace and span IDs are on the request's log lines. A server span that
another instrumentation opened first (FastAPI's native telemetry) is used instead of
a second one.

Spans leave through the OpenTelemetry SDK's batch processor and OTLP/HTTP
exporter, to ``<endpoint>/v1/traces``: rexwatch answers OTLP on its main port,
and any collector does the same.
"""

from __future__ import annotations

import os
from typing import Any

from rexwatch.sdk.config import Config

INSTALL_HINT = ("tracing needs the OpenTelemetry SDK and its OTLP/HTTP exporter: "
                "pip install 'rexwatch[otlp]' (opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http)")


def traces_url(config: Config) -> str:
    """Where spans go: ``traces_endpoint``, else the exporter's endpoint plus ``/v1/traces``."""
    if config.traces_endpoint:
        return config.traces_endpoint
    env = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if env:
        return env
    base = config.endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://127.0.0.1:9099"
    return base.rstrip("/") + "/v1/traces"


class Tracing:
    """Starts and ends one server span per request; owns the tracer provider it created."""

    def __init__(self, config: Config, provider: Any = None) -> None:
        try:
            from opentelemetry import context as otel_context
            from opentelemetry import trace
            from opentelemetry.trace import SpanKind, Status, StatusCode
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
        except ImportError as e:
            raise RuntimeError(f"{INSTALL_HINT} ({e})") from None
        self._context = otel_context
        self._trace = trace
        self._kind = SpanKind.SERVER
        self._error = lambda description: Status(StatusCode.ERROR, description)
        self._propagator = TraceContextTextMapPropagator()
        self.owned = provider is None
        if provider is None:
            provider = self._make_provider(config)
            # The app's own tracer calls go to the same place, so its spans nest under the request's.
            # OpenTelemetry allows one global provider per process; an app that set its own keeps it.
            if not _has_sdk_provider(trace.get_tracer_provider()):
                trace.set_tracer_provider(provider)
        self.provider = provider
        self.tracer = provider.get_tracer("rexwatch.sdk")

    @staticmethod
    def _make_provider(config: Config) -> Any:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as e:
            raise RuntimeError(f"{INSTALL_HINT} ({e})") from None
        attrs = {"service.name": config.service}
        if config.version:
            attrs["service.version"] = config.version
        provider = TracerProvider(resource=Resource.create(attrs))
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else None
        exporter = OTLPSpanExporter(endpoint=traces_url(config), headers=headers, timeout=config.timeout)
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=config.flush_interval * 1000))
        return provider

    def begin(self, ctx: Any, traceparent: str | None, tracestate: str | None) -> None:
        """Open the request's span as the current one; its IDs go on the request's log lines.

        When another instrumentation already opened this request's server span (FastAPI's native
        telemetry, the OpenTelemetry ASGI/WSGI middleware), that span is the request's: a second one
        would only double every request in the trace store.
        """
        outer = self._trace.get_current_span()
        if outer.is_recording() and getattr(outer, "kind", None) == self._kind:
            sc = outer.get_span_context()
            ctx.trace_id = format(sc.trace_id, "032x")
            ctx.span_id = format(sc.span_id, "016x")
            return
        parent = None
        if traceparent:
            carrier = {"traceparent": traceparent}
            if tracestate:
                carrier["tracestate"] = tracestate
            parent = self._propagator.extract(carrier)
        span = self.tracer.start_span(ctx.method, context=parent, kind=self._kind,
                                      attributes={"http.request.method": ctx.method, "url.path": ctx.path})
        ctx.span = span
        ctx.tracing = self
        ctx.otel_token = self._context.attach(self._trace.set_span_in_context(span, parent))
        sc = span.get_span_context()
        ctx.trace_id = format(sc.trace_id, "032x")
        ctx.span_id = format(sc.span_id, "016x")

    def end(self, ctx: Any, route: str | None, status: int, exc: BaseException | None) -> None:
        span, ctx.span = ctx.span, None
        token, ctx.otel_token = ctx.otel_token, None
        try:
            if span is not None:
                if route:
                    span.update_name(f"{ctx.method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if exc is not None:
                    span.record_exception(exc)
                    span.set_status(self._error(f"{type(exc).__name__}: {exc}"))
                elif status >= 500:
                    span.set_status(self._error(f"HTTP {status}"))
                span.end()
        finally:
            if token is not None:
                self._context.detach(token)

    def traceparent(self) -> str | None:
        """The current span as a ``traceparent`` header value, for calls to other services."""
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        return carrier.get("traceparent")

    def shutdown(self) -> None:
        if self.owned:
            self.provider.shutdown()  # flushes the batch processor within its own timeout


def _has_sdk_provider(provider: Any) -> bool:
    """True when the app already installed a real tracer provider (not the API's no-op or proxy)."""
    return type(provider).__name__ not in ("ProxyTracerProvider", "NoOpTracerProvider")

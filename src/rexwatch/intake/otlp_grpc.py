"""OTLP/gRPC: the logs, metrics and traces ``Export`` calls on their own port (``otlp_grpc_port``).

The same doors as OTLP/HTTP answer them: the request is decoded by
``otlp.decode`` from the official message definitions and handed to the
logs, metrics or traces door's ``export``, whose response (with its
``partial_success``) is the call's answer. What differs is the transport:

- the service and method names are those of the official ``.proto`` files
  (``opentelemetry.proto.collector.trace.v1.TraceService/Export``, …);
- the key travels as call metadata, ``authorization: Bearer <key>`` (or
  ``x-api-key``), which is what ``OTEL_EXPORTER_OTLP_HEADERS`` makes the
  exporters send;
- refusals are gRPC status codes: ``INVALID_ARGUMENT`` (a malformed request,
  not retried), ``UNAUTHENTICATED``, ``PERMISSION_DENIED``,
  ``RESOURCE_EXHAUSTED`` (throttled) and ``UNAVAILABLE`` (a store is down),
  which exporters retry; gRPC itself refuses a message over ``max_body_mb``
  (after decompression) with ``RESOURCE_EXHAUSTED``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from rexwatch.errors import RexwatchError, Throttled, Unavailable
from rexwatch.intake import otlp
from rexwatch.intake.common import IntakeError, authenticate_key
from rexwatch.runtime import Runtime

log = logging.getLogger("rexwatch.intake")

# (service in the official .proto, its Export request, the door module whose ``export`` answers it)
SERVICES: tuple[tuple[str, type[Message], str], ...] = (
    (
        logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"].full_name,
        logs_service_pb2.ExportLogsServiceRequest,
        "rexwatch.intake.otlp_logs",
    ),
    (
        metrics_service_pb2.DESCRIPTOR.services_by_name["MetricsService"].full_name,
        metrics_service_pb2.ExportMetricsServiceRequest,
        "rexwatch.intake.otlp_metrics",
    ),
    (
        trace_service_pb2.DESCRIPTOR.services_by_name["TraceService"].full_name,
        trace_service_pb2.ExportTraceServiceRequest,
        "rexwatch.intake.otlp_traces",
    ),
)

_STATUS = {code.value[0]: code for code in grpc.StatusCode}


def _code(http_status: int) -> grpc.StatusCode:
    """The gRPC status of a refusal, the same google.rpc code OTLP/HTTP puts in its Status body."""
    return _STATUS[otlp.GRPC_CODES.get(http_status, 2)]


def export_handler(
    runtime: Runtime, service: str, request_cls: type[Message], export: Callable[[Runtime, Any], Message]
) -> Callable[..., Any]:
    """The ``Export`` method of one service: bytes in (decoded here, so a malformed body is
    ``INVALID_ARGUMENT``), the door's response out."""
    what = f"gRPC /{service}/Export"

    async def handle(body: bytes, context: grpc.aio.ServicerContext) -> Message:
        metadata = {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        try:
            await authenticate_key(
                runtime, metadata.get("authorization", ""), metadata.get("x-api-key", ""), what
            )
            msg, _ = otlp.decode(body, otlp.PROTOBUF, request_cls)
            return await anyio.to_thread.run_sync(export, runtime, msg)
        except IntakeError as e:
            status, message = _code(e.status), e.message
        except (Throttled, Unavailable) as e:
            status, message = _code(429 if isinstance(e, Throttled) else 503), e.message
        except RexwatchError as e:
            # A request the services refuse as a whole is the sender's to fix, not to retry.
            status, message = _code(400 if e.status < 500 else 503), e.message
        except Exception:
            log.exception("OTLP/gRPC %s failed", what)
            status, message = grpc.StatusCode.INTERNAL, "internal error"
        await context.abort(status, message)
        raise AssertionError("unreachable: abort raises")

    return handle


class OtlpGrpcServer:
    """The OTLP/gRPC receiver, on the server's event loop (started and stopped with the app)."""

    def __init__(self, runtime: Runtime, host: str, port: int) -> None:
        self.runtime = runtime
        self.host = host
        self.port = port
        self.server: grpc.aio.Server | None = None

    async def start(self) -> None:
        import importlib

        limit = self.runtime.settings.max_body_bytes
        server = grpc.aio.server(
            options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)]
        )
        for service, request_cls, module in SERVICES:
            export = importlib.import_module(module).export
            handler = grpc.unary_unary_rpc_method_handler(
                export_handler(self.runtime, service, request_cls, export),
                request_deserializer=None,  # raw bytes: decoded by the door, refused in its terms
                response_serializer=lambda m: m.SerializeToString(),
            )
            server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(service, {"Export": handler}),)
            )
        try:
            bound = server.add_insecure_port(f"{self.host}:{self.port}")
        except RuntimeError:
            bound = 0
        if not bound:
            raise OSError(f"OTLP/gRPC: cannot listen on {self.host}:{self.port} (is the port taken?)")
        self.port = bound
        await server.start()
        self.server = server
        log.info("OTLP/gRPC listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(grace=5)
            self.server = None

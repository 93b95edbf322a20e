"""OTLP/gRPC intake (``otlp_grpc_port``) with the real OpenTelemetry gRPC exporters against a live server."""

from __future__ import annotations

import datetime as dt
import json
import logging

import grpc
import httpx
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind

from rexwatch.testing import LiveServer, free_port, make_runtime

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _export_call(port: int):
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return channel, channel.unary_unary(
        TRACE_EXPORT, request_serializer=None, response_deserializer=ExportTraceServiceResponse.FromString
    )


def test_grpc_exporters_send_spans_logs_and_metrics(runtime):
    port = runtime.settings.otlp_grpc_port = free_port()
    runtime.settings.max_body_mb = 1
    endpoint = f"http://127.0.0.1:{port}"
    resource = Resource.create({"service.name": "utm-worker", "service.instance.id": "w-1"})
    with LiveServer(runtime, run_workers=False) as live:
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, compression=grpc.Compression.Gzip))
        )
        logs = LoggerProvider(resource=resource)
        logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=endpoint)))
        logger = logging.getLogger("test.otlp.grpc")
        logger.propagate = False
        handler = LoggingHandler(logger_provider=logs)
        logger.addHandler(handler)
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=endpoint), export_interval_millis=3_600_000
        )
        meters = MeterProvider(resource=resource, metric_readers=[reader])
        try:
            tracer = tracer_provider.get_tracer("jobs")
            with tracer.start_as_current_span(
                "send invitation", kind=SpanKind.CONSUMER, attributes={"messaging.system": "redis"}
            ) as span:
                logger.warning("invitation bounced", extra={"tenant_id": "t-9"})
                trace_id = format(span.get_span_context().trace_id, "032x")
            meters.get_meter("jobs").create_counter("invitations.sent").add(3, {"tenant": "t-9"})
            assert meters.force_flush()
            assert logs.force_flush()
        finally:
            logger.removeHandler(handler)
            tracer_provider.shutdown()
            logs.shutdown()
            meters.shutdown()

        r = httpx.get(f"{live.url}/api/v1/traces/{trace_id}")
        assert r.status_code == 200, r.text
        [stored] = r.json()["spans"]
        assert (stored["name"], stored["kind"]) == ("send invitation", "CONSUMER")
        assert stored["attributes"] == {"messaging.system": "redis"}

        events = live.boto3_client("logs").filter_log_events(
            logGroupName="/otel/utm-worker", filterPattern='{ $.attributes.tenant_id = "t-9" }'
        )["events"]
        assert [json.loads(e["message"])["body"] for e in events] == ["invitation bounced"]
        assert json.loads(events[0]["message"])["traceId"] == trace_id

        now = dt.datetime.now(dt.UTC)
        points = live.boto3_client("cloudwatch").get_metric_statistics(
            Namespace="otel",
            MetricName="invitations.sent",
            Dimensions=[{"Name": "service.name", "Value": "utm-worker"}, {"Name": "tenant", "Value": "t-9"}],
            StartTime=now - dt.timedelta(hours=1),
            EndTime=now + dt.timedelta(minutes=5),
            Period=3600,
            Statistics=["Sum"],
        )["Datapoints"]
        assert [p["Sum"] for p in points] == [3.0]

        # A body that is not an ExportTraceServiceRequest is the sender's error: not retried.
        channel, export = _export_call(port)
        with channel:
            try:
                export(b"\xff\xff", timeout=30)
                raise AssertionError("a malformed request was accepted")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "protobuf" in e.details()
            assert export(b"", timeout=30) == ExportTraceServiceResponse()
            # Past max_body_mb gRPC refuses the message itself, before it is decoded.
            try:
                export(b"\x00" * (2 * 2**20), timeout=30)
                raise AssertionError("an oversized message was accepted")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_grpc_auth_is_the_api_key_in_call_metadata(tmp_path, chdb_engine):
    rt = make_runtime(tmp_path / "data", chdb_engine, workers="none", auth="on", otlp_grpc_port=free_port())
    port = rt.settings.otlp_grpc_port
    try:
        ingest = rt.keys.create("collector", role="editor", scope="ingest").token
        read_only = rt.keys.create("grafana", role="admin", scope="read").token
        with LiveServer(rt, run_workers=False):

            def send(headers):
                provider = TracerProvider(resource=Resource.create({"service.name": "authd"}))
                exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}", headers=headers, timeout=30)
                with provider.get_tracer("t").start_as_current_span("s") as s:
                    pass
                return exporter.export([s])

            assert send(None) == SpanExportResult.FAILURE
            assert send((("authorization", f"Bearer {ingest}"),)) == SpanExportResult.SUCCESS

            channel, export = _export_call(port)
            with channel:
                body = ExportTraceServiceRequest().SerializeToString()
                for metadata, code in (
                    (None, grpc.StatusCode.UNAUTHENTICATED),
                    ((("authorization", "Bearer nope"),), grpc.StatusCode.UNAUTHENTICATED),
                    ((("authorization", f"Bearer {read_only}"),), grpc.StatusCode.PERMISSION_DENIED),
                ):
                    try:
                        export(body, metadata=metadata, timeout=30)
                        raise AssertionError(f"{metadata} was let in")
                    except grpc.RpcError as e:
                        assert e.code() == code, (metadata, e.details())
                assert (
                    export(body, metadata=(("x-api-key", ingest),), timeout=30)
                    == ExportTraceServiceResponse()
                )
    finally:
        rt.close(close_stores=False)
        rt.telemetry.drop_database()
        rt.control.dispose()

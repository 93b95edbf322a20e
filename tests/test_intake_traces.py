"""OTLP/HTTP traces with the real OpenTelemetry SDK span exporter against a live server."""

from __future__ import annotations

import logging
import time

import httpx
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode


def _provider(live, service: str, **kw) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{live.url}/v1/traces", **kw)))
    return provider


def test_sdk_spans_are_stored_and_fetched_as_a_trace(live):
    provider = _provider(live, "utm-api", compression=Compression.Gzip)
    tracer = provider.get_tracer("checkout")
    with tracer.start_as_current_span("GET /orders/{id}", kind=SpanKind.SERVER,
                                      attributes={"http.route": "/orders/{id}", "http.status_code": 500}) as root:
        with tracer.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT) as child:
            child.add_event("retry", {"attempt": 2})
            time.sleep(0.002)  # gives the child a measurable duration; not a synchronisation
        root.set_status(Status(StatusCode.ERROR, "database timeout"))
        trace_id = format(root.get_span_context().trace_id, "032x")
        root_id = format(root.get_span_context().span_id, "016x")
    provider.shutdown()

    r = httpx.get(f"{live.url}/api/v1/traces/{trace_id}")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["trace_id"] == trace_id and doc["services"] == ["utm-api"]
    by_name = {s["name"]: s for s in doc["spans"]}
    assert set(by_name) == {"GET /orders/{id}", "SELECT orders"}
    server, client = by_name["GET /orders/{id}"], by_name["SELECT orders"]
    assert doc["root"]["span_id"] == root_id and server["parent_span_id"] is None
    assert client["parent_span_id"] == root_id
    assert server["kind"] == "SERVER" and client["kind"] == "CLIENT"
    assert server["status"] == "ERROR" and server["status_message"] == "database timeout"
    assert server["route"] == "/orders/{id}" and server["attributes"]["http.status_code"] == 500
    assert client["events"][0]["name"] == "retry" and client["events"][0]["attributes"] == {"attempt": 2}
    assert client["duration_ms"] >= 2 and server["duration_ms"] >= client["duration_ms"]
    assert doc["spans"][0]["span_id"] == root_id  # by start time
    assert server["resource"]["service.name"] == "utm-api"

    # Search: slowest request spans of the service and route, by status and duration.
    found = httpx.get(f"{live.url}/api/v1/traces", params={"service": "utm-api", "route": "/orders/{id}",
                                                          "status": "ERROR", "min_duration_ms": 1}).json()
    assert [s["trace_id"] for s in found["spans"]] == [trace_id]
    none = httpx.get(f"{live.url}/api/v1/traces", params={"service": "utm-api", "min_duration_ms": 60_000}).json()
    assert none["spans"] == []
    all_spans = httpx.get(f"{live.url}/api/v1/traces", params={"service": "utm-api", "per_trace": "false"}).json()
    assert [s["name"] for s in all_spans["spans"]] == ["GET /orders/{id}", "SELECT orders"]  # slowest first

    summary = httpx.get(f"{live.url}/api/v1/traces/services").json()["services"]
    assert [(s["service"], s["requests"], s["errors"]) for s in summary] == [("utm-api", 1, 1)]
    assert summary[0]["max_ms"] >= 2


def test_logs_of_a_trace_are_linked_by_trace_id(live):
    provider = _provider(live, "billing")
    logs = LoggerProvider(resource=Resource.create({"service.name": "billing"}))
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{live.url}/v1/logs")))
    logger = logging.getLogger("test.traces.logs")
    logger.propagate = False
    handler = LoggingHandler(logger_provider=logs)
    logger.addHandler(handler)
    tracer = provider.get_tracer("billing")
    try:
        with tracer.start_as_current_span("charge") as span:
            logger.warning("card declined")
            trace_id = format(span.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("other"):
            logger.warning("unrelated")
    finally:
        logger.removeHandler(handler)
        logs.shutdown()
        provider.shutdown()
    r = httpx.get(f"{live.url}/api/v1/traces/{trace_id}/logs")
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    assert [e["log_group"] for e in events] == ["/otel/billing"]
    assert "card declined" in events[0]["message"] and trace_id in events[0]["message"]


def test_json_encoding_partial_success_and_bad_requests(live):
    now = time.time_ns()
    good = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "job",
            "kind": 1, "startTimeUnixNano": str(now - 5_000_000), "endTimeUnixNano": str(now)}
    backwards = {**good, "spanId": "eee19b7ec3c1b175", "startTimeUnixNano": str(now), "endTimeUnixNano": str(now - 1)}
    zero = {**good, "spanId": "0000000000000000"}
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "w"}}]},
                               "scopeSpans": [{"spans": [good, backwards, zero]}]}]}
    r = httpx.post(f"{live.url}/v1/traces", json=body)
    assert r.status_code == 200, r.text
    partial = r.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2" and "span" in partial["errorMessage"]
    got = httpx.get(f"{live.url}/api/v1/traces/5b8efff798038103d269b633813fc60c").json()
    assert [s["name"] for s in got["spans"]] == ["job"] and got["spans"][0]["kind"] == "INTERNAL"

    proto = httpx.post(f"{live.url}/v1/traces", content=b"\xff\xff", headers={"content-type": "application/x-protobuf"})
    assert proto.status_code == 400
    ok = httpx.post(f"{live.url}/v1/traces", content=b"", headers={"content-type": "application/x-protobuf"})
    assert ok.status_code == 200 and not ExportTraceServiceResponse.FromString(ok.content).HasField("partial_success")

    assert httpx.get(f"{live.url}/api/v1/traces/not-a-trace").status_code == 400
    assert httpx.get(f"{live.url}/api/v1/traces/{'a' * 32}").status_code == 404
    assert httpx.get(f"{live.url}/api/v1/traces", params={"limit": 5000}).status_code == 400
    assert httpx.get(f"{live.url}/api/v1/traces", params={"start": "now", "end": "1h"}).status_code == 400


def test_spans_past_the_retention_setting_are_refused(runtime):
    from rexwatch.services.traces import Span, TracesService

    runtime.settings.trace_retention_days = 3
    svc = runtime.service(TracesService)
    now = time.time_ns()
    day = 86_400 * 10**9
    old = Span("1" * 32, "2" * 16, "", "svc", "old", "SERVER", now - 4 * day, now - 4 * day + 1000)
    recent = Span("1" * 32, "3" * 16, "", "svc", "recent", "SERVER", now - 2 * day, now - 2 * day + 1000)
    result = svc.put_spans([old, recent])
    assert (result.stored, result.rejected) == (1, 1) and "retention period (3 days)" in result.reason
    assert [s.name for s in svc.trace("1" * 32)] == ["recent"]


def test_spans_are_checked_by_column_and_the_first_refused_span_is_named(runtime):
    from rexwatch.services.traces import Span, TracesService

    svc = runtime.service(TracesService)
    now = time.time_ns()

    def span(span_id: str, **kw) -> Span:
        return Span(**{"trace_id": "ab" * 16, "span_id": span_id, "parent_span_id": "", "service": "svc",
                       "name": "ok", "kind": "SERVER", "start_ns": now - 1000, "end_ns": now, **kw})

    result = svc.put_spans([
        span("01" * 8),
        span("02" * 8, name="late", start_ns=now, end_ns=now - 1),  # the first refused: its reason is given
        span("0" * 16),  # all zero
        span("03" * 8, parent_span_id="abc"),  # not 16 hex digits
        span("04" * 8, kind="WEIRD"),
        span("05" * 8, trace_id="AB" * 16),  # hex ids are lowercase
        span("06" * 8, name="n" * 2000, service="s" * 2000, parent_span_id="01" * 8),
    ])
    assert (result.stored, result.rejected) == (2, 5)
    assert result.reason == "span 'late' ends before it starts"
    stored = {s.span_id: s for s in svc.trace("ab" * 16)}
    assert sorted(stored) == ["01" * 8, "06" * 8]
    long = stored["06" * 8]
    assert (len(long.name), len(long.service), long.parent_span_id) == (1024, 1024, "01" * 8)
    assert svc.put_spans([]).stored == 0

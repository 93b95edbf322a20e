"""The traces console in headless Chromium: slowest traces of a service and route, one trace as a
waterfall with span attributes and its logs, hostile span names escaped."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

HOSTILE = 'q <img src=x onerror="document.body.dataset.pwned=1">'


@pytest.fixture
def trace_id(live) -> str:
    resource = Resource.create({"service.name": "utm-api"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{live.url}/v1/traces")))
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{live.url}/v1/logs")))
    logger = logging.getLogger("test.traces.console")
    logger.propagate = False
    handler = LoggingHandler(logger_provider=logs)
    logger.addHandler(handler)
    tracer = provider.get_tracer("web")
    try:
        with tracer.start_as_current_span("GET /tenants/{id}", kind=SpanKind.SERVER,
                                          attributes={"http.route": "/tenants/{id}", "tenant.plan": "pro"}) as root:
            with tracer.start_as_current_span(HOSTILE, kind=SpanKind.CLIENT) as child:
                child.set_status(Status(StatusCode.ERROR, "deadlock"))
                logger.error("query failed: deadlock detected")
            tid = format(root.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("GET /health", kind=SpanKind.SERVER, attributes={"http.route": "/health"}):
            pass
    finally:
        logger.removeHandler(handler)
        logs.shutdown()
        provider.shutdown()
    return tid


def test_search_then_waterfall_with_logs(page, live, trace_id):
    page.goto(live.url + "/traces?service=utm-api&route=/tenants/%7Bid%7D")
    rows = page.locator("table.traces tbody tr")
    assert rows.count() == 1
    assert "GET /tenants/{id}" in rows.first.inner_text()
    assert "utm-api" in page.locator("table.services").inner_text()

    rows.first.get_by_role("link").click()
    page.wait_for_url(f"**/traces/{trace_id}")
    spans = page.locator("tr.span-row")
    assert spans.count() == 2
    assert spans.nth(0).inner_text().startswith("GET /tenants/{id}")
    assert HOSTILE in spans.nth(1).inner_text() and "ERROR" in spans.nth(1).inner_text()  # shown as text
    assert page.evaluate("document.body.dataset.pwned") is None
    bars = page.locator("tr.span-row svg rect:nth-child(2)")
    root_w, child_w = float(bars.nth(0).get_attribute("width")), float(bars.nth(1).get_attribute("width"))
    assert root_w == pytest.approx(1000, abs=0.01) and child_w <= root_w
    page.get_by_text("attributes, events, resource of GET /tenants/{id}").click()
    assert '"tenant.plan": "pro"' in page.locator("tr.span-details pre").first.inner_text()
    logs = page.locator("table.trace-logs")
    assert "query failed: deadlock detected" in logs.inner_text() and "/otel/utm-api" in logs.inner_text()


def test_missing_trace_is_a_404_page(page, live):
    r = page.goto(live.url + "/traces/" + "ab" * 16)
    assert r is not None and r.status == 404
    assert "not found" in page.locator("[role=alert]").inner_text()
    r = page.goto(live.url + "/traces/<script>")
    assert r is not None and r.status == 404

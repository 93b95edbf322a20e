"""Tracing: a real FastAPI app with ``REXWATCH_TRACING=1`` sends its request spans to a live server.

The spans go through the OpenTelemetry SDK's OTLP/HTTP exporter to ``/v1/traces`` and
are read back from the traces REST API: the caller's W3C ``traceparent`` is the
server span's parent, the app's own span nests under it, and the request's log
lines carry the span's trace and span IDs.
"""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from sdk_helpers import log_lines, wait_for

pytestmark = pytest.mark.slow
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def _trace(url: str, trace_id: str, n: int) -> dict | None:
    r = httpx.get(f"{url}/api/v1/traces/{trace_id}", timeout=30)
    if r.status_code == 404:
        return None
    r.raise_for_status()
    doc = r.json()
    return doc if len(doc["spans"]) >= n else None


@pytest.mark.parametrize("spans_by", ["sdk", "fastapi"])
def test_request_spans_land_in_the_trace_store(live, app_factory, spans_by):
    # "sdk": FastAPI's native telemetry off, the SDK's middleware opens the server spans;
    # "fastapi": FastAPI opens them and the SDK uses them rather than adding a second one.
    app = app_factory("fastapi", live.url, REXWATCH_TRACING="1",
                      APP_FASTAPI_TELEMETRY="0" if spans_by == "sdk" else "1")
    with httpx.Client(base_url=app.url, timeout=30) as c:
        joined = c.get("/api/v1/orders/o-1", headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
                                                      "tracestate": "vendor=x"})
        assert joined.status_code == 200, joined.text
        fresh = c.get("/api/v1/orders/o-2")
        assert fresh.status_code == 200
    failed = httpx.get(f"{app.url}/api/v1/fail", timeout=30,
                       headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    assert failed.status_code == 500

    # What the app passes on to other services: its own current span, in the caller's trace.
    version, trace_id, child_id, flags = joined.json()["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", CALLER_TRACE, "01")

    doc = wait_for(lambda: _trace(live.url, CALLER_TRACE, 2), what="the joined trace")
    servers = [s for s in doc["spans"] if s["kind"] == "SERVER"]
    assert len(servers) == 1, doc["spans"]  # one server span per request, never two
    server = servers[0]
    child = next(s for s in doc["spans"] if s["name"] == "load order")
    assert server["name"] == "GET /api/v1/orders/{order_id}"
    if spans_by == "sdk":
        assert len(doc["spans"]) == 2 and child["parent_span_id"] == server["span_id"]
    else:  # FastAPI's operation spans sit between the request and the endpoint's own span
        by_id = {s["span_id"]: s for s in doc["spans"]}
        up = child
        while up["parent_span_id"] in by_id and up["span_id"] != server["span_id"]:
            up = by_id[up["parent_span_id"]]
        assert up["span_id"] == server["span_id"]
    assert server["kind"] == "SERVER" and server["parent_span_id"] == CALLER_SPAN
    assert server["route"] == "/api/v1/orders/{order_id}" and server["service"] == app.service
    assert server["attributes"]["http.response.status_code"] == 200
    assert server["attributes"]["http.request.method"] == "GET"
    assert server["attributes"]["url.path"] == "/api/v1/orders/o-1"
    assert server["status"] == "UNSET"
    assert child["span_id"] == child_id
    assert child["attributes"]["order.id"] == "o-1"
    assert server["resource"]["service.version"] == "1.4.2"

    # A request without a traceparent starts a trace of its own: a root span.
    fresh_trace = fresh.json()["traceparent"].split("-")[1]
    assert fresh_trace != CALLER_TRACE
    root = wait_for(lambda: _trace(live.url, fresh_trace, 2), what="the fresh trace")["root"]
    assert root["parent_span_id"] is None and root["name"] == "GET /api/v1/orders/{order_id}"

    # An exception escaping the app: the span is an error with the exception recorded.
    err = wait_for(lambda: _trace(live.url, "0af7651916cd43dd8448eb211c80319c", 1), what="the failed trace")
    span = err["spans"][0]
    assert span["status"] == "ERROR" and span["attributes"]["http.response.status_code"] == 500
    if spans_by == "sdk":
        assert "kaboom" in span["status_message"]
        assert any(e["name"] == "exception" and "kaboom" in e["attributes"]["exception.message"]
                   for e in span["events"])

    # The request's lines carry the server span's IDs, so the trace's page finds them.
    group = f"/app/{app.service}"
    lines = wait_for(lambda: [x for x in log_lines(live.url, group) if x.get("order_id") == "o-1"],
                     what="the traced request's line")
    assert lines[0]["trace_id"] == CALLER_TRACE and lines[0]["span_id"] == server["span_id"]
    linked = wait_for(lambda: httpx.get(f"{live.url}/api/v1/traces/{CALLER_TRACE}/logs", timeout=30).json(),
                      what="the trace's logs")
    messages = [e["message"] for e in linked.get("events", [])]
    assert any('"order loaded"' in m for m in messages), linked
    assert any('"rexwatch.sdk.access"' in m for m in messages), linked


def test_tracing_without_opentelemetry_says_what_to_install():
    # The OpenTelemetry packages hidden from the import system, as in an install without the extra.
    code = ("import sys; sys.modules['opentelemetry'] = None\n"
            "import rexwatch.sdk as rw\n"
            "rw.configure(logging_level=None, service='x', endpoint='http://127.0.0.1:9')\n"
            "assert rw.traceparent() is None\n"
            "rw.shutdown(1)\n"
            "try:\n"
            "    rw.configure(logging_level=None, tracing=True, endpoint='http://127.0.0.1:9')\n"
            "except RuntimeError as e:\n"
            "    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "pip install 'rexwatch[otlp]'" in r.stdout


@pytest.mark.parametrize("kind", ["flask", "django"])
def test_wsgi_and_django_requests_open_spans_too(live, app_factory, kind):
    app = app_factory(kind, live.url, REXWATCH_TRACING="1")
    caller = "1f2e3d4c5b6a79880f1e2d3c4b5a6978"
    r = httpx.get(f"{app.url}/api/v1/tenants/t-9", headers={"traceparent": f"00-{caller}-{CALLER_SPAN}-01"},
                  timeout=30)
    assert r.status_code == 200
    doc = wait_for(lambda: _trace(live.url, caller, 1), what=f"the {kind} app's span")
    [span] = doc["spans"]
    route = {"flask": "/api/v1/tenants/<tenant_id>", "django": "/api/v1/tenants/<str:tenant_id>"}[kind]
    assert span["kind"] == "SERVER" and span["parent_span_id"] == CALLER_SPAN and span["route"] == route
    assert span["name"] == f"GET {route}" and span["service"] == app.service
    assert span["attributes"]["http.response.status_code"] == 200
    lines = wait_for(lambda: [x for x in log_lines(live.url, f"/app/{app.service}") if x.get("tenant_id") == "t-9"],
                     what="the request's line")
    assert lines[0]["trace_id"] == caller and lines[0]["span_id"] == span["span_id"]

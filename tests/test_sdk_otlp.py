"""The SDK's OTLP exporter against a live server's ``/v1/logs`` and ``/v1/metrics``."""

from __future__ import annotations

import logging

import pytest

import rexwatch.sdk as rw
from rexwatch.sdk.exporters.otlp import env_headers
from rexwatch.sdk.requests import finish, start
from sdk_helpers import log_lines, metric_stats, wait_for


@pytest.fixture(autouse=True)
def _sdk_off():
    handler = rw.RexwatchHandler()
    log = logging.getLogger("orders")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield
    log.removeHandler(handler)
    rw.shutdown(5)


def test_logs_and_statistic_sets_over_otlp(live):
    rw.configure(logging_level=None, exporter="otlp", endpoint=live.url, service="otlp-api", version="2.0.1",
                 flush_interval=60)
    log = logging.getLogger("orders")
    ctx = start("GET", "/orders/7", "req-otlp-1", lambda: "/orders/{id}",
                "00-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174-01")
    log.warning("order slow", extra={"order_id": 7, "tags": ["a", "b"], "detail": {"ms": 1500.5}})
    finish(ctx, 200, 0.25)
    for v in (10, 20, 30):
        rw.put_metric("QueueDepth", v, "Count", {"Queue": "jobs"})
    rw.put_metric("Latency", 0.5, "Seconds")
    assert rw.flush(30), rw.stats()

    group = "/otel/otlp-api"
    lines = wait_for(lambda: len(x := log_lines(live.url, group)) >= 2 and x, what="OTLP log records")
    slow = next(x for x in lines if x.get("body") == "order slow")
    assert slow["severityText"] == "WARNING" and slow["severityNumber"] == 13
    assert slow["scope"]["name"] == "orders"
    attrs = slow["attributes"]
    assert attrs["order_id"] == 7 and attrs["tags"] == ["a", "b"] and attrs["detail"] == {"ms": 1500.5}
    assert attrs["request_id"] == "req-otlp-1" and attrs["path"] == "/orders/7"
    assert slow["traceId"] == "5b8efff798038103d269b633813fc60c"
    assert slow["resource"]["service.name"] == "otlp-api" and slow["resource"]["service.version"] == "2.0.1"
    access = next(x for x in lines if x.get("scope", {}).get("name") == "rexwatch.sdk.access")
    assert access["attributes"]["status"] == 200 and access["attributes"]["route"] == "/orders/{id}"
    assert access["body"] == "GET /orders/7 200"
    assert rw.stats()["logs_sent"] == 2

    # A statistic set crosses as a bucketless delta histogram: count and sum stay exact.
    dims = {"service.name": "otlp-api", "Queue": "jobs"}
    depth = wait_for(lambda: metric_stats(live.url, "otel", "QueueDepth", dims), what="QueueDepth")
    assert depth["SampleCount"] == 3 and depth["Sum"] == 60
    latency = metric_stats(live.url, "otel", "Latency", {"service.name": "otlp-api"})
    assert latency["SampleCount"] == 1 and latency["Maximum"] == 0.5
    rc = metric_stats(live.url, "otel", "RequestCount", {"service.name": "otlp-api", "Service": "otlp-api",
                                                           "Route": "/orders/{id}"})
    assert rc["Sum"] == 1


def test_otlp_refusals_are_counted_not_raised(live):
    rw.configure(logging_level=None, exporter="otlp", endpoint=f"{live.url}/nowhere", service="otlp-bad",
                 flush_interval=60)
    logging.getLogger("orders").info("lost")
    assert not rw.flush(10)
    stats = rw.stats()
    assert stats["send_errors"] >= 1 and stats["logs_failed"] == 1 and "HTTP 404" in stats["last_error"]


def test_otel_headers_variable_is_parsed():
    assert env_headers("Authorization=Bearer%20k1, x-team = ops ,broken") == {"Authorization": "Bearer k1",
                                                                             "x-team": "ops"}

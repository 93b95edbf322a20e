"""The SDK's OTLP exporter against a live server's ``/v1/logs`` and ``/v1/metrics``."""

from __future__ import annotations

import datetime as dt
import logging
import math
import random

import pytest

import rexwatch.sdk as rw
from rexwatch.sdk.exporters.otlp import MAX_BUCKETS, MAX_SCALE, env_headers, exponential_buckets
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


def _percentiles(cw, dims: dict[str, str], stats: list[str]) -> dict[str, float]:
    now = dt.datetime.now(dt.UTC)
    metric = {"Namespace": "otel", "MetricName": "TargetResponseTime",
              "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]}
    r = cw.get_metric_data(StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5),
                           MetricDataQueries=[{"Id": f"q{i}", "Label": s, "MetricStat": {
                               "Metric": metric, "Period": 3600, "Stat": s}} for i, s in enumerate(stats)])
    return {x["Label"]: x["Values"][0] for x in r["MetricDataResults"] if x["Values"]}


def test_response_time_percentiles_over_otlp_match_the_distribution(live):
    """TargetResponseTime leaves as an exponential histogram: the server's p50/p99 are the true ones
    within a bucket (the SDK's own buckets are 10 % wide, the exponential ones a few per cent)."""
    rw.configure(logging_level=None, exporter="otlp", endpoint=live.url, service="otlp-pct", flush_interval=60,
                 access_log=False)
    rng = random.Random(17)
    # Log-normal around 40 ms with a slow tail: 0.5 ms to several seconds.
    durations = [min(20.0, rng.lognormvariate(math.log(0.040), 1.1)) for _ in range(5000)]
    durations += [0.0, 0.0]  # a zero lands in the zero bucket, not in a log bucket
    for seconds in durations:
        finish(start("GET", "/items/1", None, lambda: "/items/{id}"), 200, seconds)
    assert rw.flush(30), rw.stats()

    dims = {"service.name": "otlp-pct", "Service": "otlp-pct", "Route": "/items/{id}"}
    cw = live.boto3_client("cloudwatch")
    got = wait_for(lambda: _percentiles(cw, dims, ["p50", "p90", "p99", "SampleCount", "Maximum", "Minimum"]),
                   what="TargetResponseTime percentiles")
    assert got["SampleCount"] == len(durations)
    ordered = sorted(durations)
    for name, q in (("p50", 0.50), ("p90", 0.90), ("p99", 0.99)):
        true = ordered[math.ceil(q * len(ordered)) - 1]
        assert abs(got[name] - true) <= 0.13 * true, (name, got[name], true)
    assert math.isclose(got["Maximum"], max(durations), rel_tol=0.1) and got["Minimum"] == 0.0


def test_exponential_buckets_fit_and_keep_every_count():
    rng = random.Random(3)
    values = [(rng.uniform(1e-4, 50.0) * rng.choice((1, 1, 1, -1)), float(rng.randint(1, 9))) for _ in range(400)]
    values.append((0.0, 4.0))
    scale, zero, buckets = exponential_buckets(values)
    assert zero == 4 and sum(sum(c) for _, c in buckets.values()) + zero == sum(c for _, c in values)
    assert all(len(c) <= MAX_BUCKETS for _, c in buckets.values())
    base = 2.0 ** (2.0**-scale)
    for v, _ in values[:50]:  # each value lies in the bucket it was counted in
        if v:
            offset, counts = buckets[1 if v > 0 else -1]
            i = math.ceil(math.log(abs(v), base)) - 1
            assert 0 <= i - offset < len(counts) and counts[i - offset] > 0
            assert base**i < abs(v) * (1 + 1e-9) and abs(v) <= base ** (i + 1) * (1 + 1e-9)
    narrow, _, _ = exponential_buckets([(0.010, 1), (0.0105, 1)])
    assert narrow == MAX_SCALE  # a narrow spread keeps the finest buckets

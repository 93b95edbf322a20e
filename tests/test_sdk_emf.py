"""The SDK's EMF exporter: metrics as Embedded Metric Format events, extracted by a live server."""

from __future__ import annotations

import json
import logging
import math
import random

import pytest

import rexwatch.sdk as rw
from rexwatch.sdk.exporters.base import MetricDatum
from rexwatch.sdk.exporters.emf import MAX_VALUES, emf_events, samples
from rexwatch.sdk.requests import finish, start
from rexwatch.services.metrics.emf import EmfExtractor
from sdk_helpers import log_lines, metric_stats, wait_for


@pytest.fixture(autouse=True)
def _sdk_off():
    handler = rw.RexwatchHandler()
    log = logging.getLogger("billing")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield
    log.removeHandler(handler)
    rw.shutdown(5)


def test_metrics_leave_as_emf_events_and_the_server_extracts_them(live):
    rw.configure(logging_level=None, exporter="emf", endpoint=live.url, service="emf-api", namespace="UTM/Emf",
                 log_group="/aws/ecs/emf-api", aws_access_key_id="x", aws_secret_access_key="x", flush_interval=60)
    logging.getLogger("billing").info("invoice sent", extra={"invoice": "i-1"})
    for ms in range(1, 251):  # 250 samples: three events of at most 100
        rw.put_metric("APILatency", ms, "Milliseconds", {"Tenant": "acme"})
    rw.put_metric("TenantCreated", 1, "Count")
    for status in (200, 200, 503):
        ctx = start("POST", "/invoices", None, lambda: "/invoices")
        finish(ctx, status, 0.125)
    assert rw.flush(30), rw.stats()
    extractor = live.runtime.service(EmfExtractor)
    wait_for(lambda: extractor.events >= 6, what="the EMF events extracted")
    assert extractor.wait_idle(60) and extractor.errors == 0

    lat = metric_stats(live.url, "UTM/Emf", "APILatency", {"Tenant": "acme"})
    assert (lat["SampleCount"], lat["Sum"], lat["Minimum"], lat["Maximum"]) == (250, 250 * 251 / 2, 1, 250)
    assert metric_stats(live.url, "UTM/Emf", "TenantCreated")["Sum"] == 1
    route = {"Service": "emf-api", "Route": "/invoices"}
    assert metric_stats(live.url, "UTM/Emf", "RequestCount", route)["Sum"] == 3
    five = metric_stats(live.url, "UTM/Emf", "HTTPCode_Target_5XX_Count", route)
    assert (five["Sum"], five["SampleCount"]) == (1, 3)  # Average is the error rate, as with PutMetricData
    rt = metric_stats(live.url, "UTM/Emf", "TargetResponseTime", {"Service": "emf-api"})
    assert rt["SampleCount"] == 3 and math.isclose(rt["Sum"], 0.375)

    # The events stay in the log group next to the app's lines, as in CloudWatch Logs.
    lines = log_lines(live.url, "/aws/ecs/emf-api")
    assert any(x.get("invoice") == "i-1" for x in lines)
    emf = [x for x in lines if "_aws" in x]
    assert {m["Name"] for x in emf for d in x["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]} >= {
        "APILatency", "RequestCount", "TargetResponseTime", "HTTPCode_Target_5XX_Count"}
    assert all(len(x["APILatency"]) <= MAX_VALUES for x in emf if isinstance(x.get("APILatency"), list))


def test_samples_keep_every_statistic_of_the_set():
    rng = random.Random(7)
    for _ in range(500):
        values = [rng.uniform(-1e3, 1e6) for _ in range(rng.randint(1, 400))]
        d = MetricDatum("X", (), "None", 0.0, len(values), sum(values), min(values), max(values))
        got = samples(d)
        assert len(got) == len(values) and min(got) == min(values) and max(got) == max(values)
        assert math.isclose(sum(got), sum(values), rel_tol=1e-9, abs_tol=1e-6)
    same = MetricDatum("X", (), "Count", 0.0, 3, 3, 1, 1)
    assert samples(same) == [1, 1, 1]


def test_one_event_holds_every_metric_of_a_dimension_set():
    a = MetricDatum("RequestCount", (("Service", "s"),), "Count", 1.0, 2, 2, 1, 1)
    b = MetricDatum("TargetResponseTime", (("Service", "s"),), "Seconds", 1.0, 2, 0.5, 0.1, 0.4)
    [(ts, text)] = emf_events("NS", [a, b])
    doc = json.loads(text)
    assert ts == 1000 and doc["Service"] == "s" and doc["RequestCount"] == [1, 1]
    assert doc["TargetResponseTime"] == [0.1, 0.4]
    assert doc["_aws"] == {"Timestamp": 1000, "CloudWatchMetrics": [{
        "Namespace": "NS", "Dimensions": [["Service"]],
        "Metrics": [{"Name": "RequestCount", "Unit": "Count"}, {"Name": "TargetResponseTime", "Unit": "Seconds"}]}]}

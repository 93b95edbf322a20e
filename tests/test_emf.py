"""Embedded Metric Format: events written by the real aws-embedded-metrics serializer, sent with boto3."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from aws_embedded_metrics.logger.metrics_context import MetricsContext
from aws_embedded_metrics.serializers.log_serializer import LogSerializer
from aws_embedded_metrics.storage_resolution import StorageResolution

from rexwatch.services.metrics.emf import EmfError, EmfExtractor, extract
from rexwatch.testing import wait_until


def _emf_events() -> list[str]:
    c = MetricsContext.empty()
    c.namespace = "UTM/Application"
    c.put_dimensions({"Service": "api"})
    c.put_metric("APILatency", 120, "Milliseconds")
    c.put_metric("APILatency", 80, "Milliseconds")
    c.put_metric("TenantCreated", 1, "Count", StorageResolution.HIGH)
    c.set_property("requestId", "r-1")
    return LogSerializer.serialize(c)


def _stats(cw, name, dims, stats, ext=()):
    now = dt.datetime.now(dt.UTC)
    r = cw.get_metric_statistics(Namespace="UTM/Application", MetricName=name, Dimensions=dims,
                                 StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5),
                                 Period=3600, Statistics=list(stats), **({"ExtendedStatistics": list(ext)}
                                                                         if ext else {}))
    return r["Datapoints"]


def test_put_log_events_with_emf_publishes_metrics_and_keeps_the_logs(live):
    logs = live.boto3_client("logs")
    logs.create_log_group(logGroupName="/aws/ecs/utm-api")
    logs.create_log_stream(logGroupName="/aws/ecs/utm-api", logStreamName="task-1")
    now_ms = int(time.time() * 1000)
    bad = json.dumps({"_aws": {"Timestamp": now_ms, "CloudWatchMetrics": [
        {"Namespace": "UTM/Application", "Dimensions": [["Missing"]], "Metrics": [{"Name": "X"}]}]}, "X": 1})
    messages = [*_emf_events(), bad, "plain text mentioning \"_aws\"", '{"level": "info"}']
    r = logs.put_log_events(logGroupName="/aws/ecs/utm-api", logStreamName="task-1",
                            logEvents=[{"timestamp": now_ms, "message": m} for m in messages])
    assert "rejectedLogEventsInfo" not in r  # an invalid EMF event is still a valid log event

    # The logs writer hands stored batches to the extractor after acknowledging them: poll for it.
    extractor = live.runtime.service(EmfExtractor)
    wait_until(lambda: extractor.events + extractor.errors >= 2, 60, what="the EMF extractor to see both events")
    assert extractor.wait_idle(60)
    assert extractor.events == 1 and extractor.errors == 1

    events = logs.filter_log_events(logGroupName="/aws/ecs/utm-api")["events"]
    assert len(events) == 4
    assert logs.filter_log_events(logGroupName="/aws/ecs/utm-api",
                                  filterPattern='{ $.requestId = "r-1" }')["events"][0]["message"] == messages[0]

    cw = live.boto3_client("cloudwatch")
    dims = [{"Name": "Service", "Value": "api"}]
    [p] = _stats(cw, "APILatency", dims, ["SampleCount", "Sum", "Maximum"], ["p50"])
    assert (p["SampleCount"], p["Sum"], p["Maximum"], p["Unit"]) == (2.0, 200.0, 120.0, "Milliseconds")
    [p] = _stats(cw, "TenantCreated", dims, ["Sum"])
    assert p["Sum"] == 1.0 and p["Unit"] == "Count"
    assert _stats(cw, "X", [{"Name": "Missing", "Value": "x"}], ["Sum"]) == []
    scraped = live.runtime.metrics.render().decode()
    assert 'rexwatch_rejected_total{kind="emf",reason="invalid"} 1.0' in scraped


NOW = dt.datetime.now(dt.UTC)
TS = int(NOW.timestamp() * 1000)


def _doc(directive: dict, **members) -> dict:
    return {"_aws": {"Timestamp": TS, "CloudWatchMetrics": [directive]}, **members}


def test_dimension_sets_each_get_a_datum_and_empty_set_means_no_dimensions():
    pairs = extract(_doc({"Namespace": "N", "Dimensions": [["A"], ["A", "B"], []],
                          "Metrics": [{"Name": "m", "Unit": "Seconds"}]}, A="a", B="b", m=[1, 2, 3]), NOW)
    assert [(ns, d.dimensions, d.values, d.unit) for ns, d in pairs] == [
        ("N", [("A", "a")], [1.0, 2.0, 3.0], "Seconds"),
        ("N", [("A", "a"), ("B", "b")], [1.0, 2.0, 3.0], "Seconds"),
        ("N", [], [1.0, 2.0, 3.0], "Seconds"),
    ]


def test_a_metric_without_its_member_is_skipped():
    assert extract(_doc({"Namespace": "N", "Dimensions": [[]], "Metrics": [{"Name": "absent"}]}), NOW) == []


@pytest.mark.parametrize(("doc", "message"), [
    ({"_aws": {"CloudWatchMetrics": []}}, "Timestamp"),
    ({"_aws": {"Timestamp": TS, "CloudWatchMetrics": {}}}, "must be an array"),
    ({"_aws": {"Timestamp": TS - 20 * 86400_000, "CloudWatchMetrics": []}}, "two weeks"),
    (_doc({"Namespace": "", "Metrics": []}), "Namespace"),
    (_doc({"Namespace": "AWS/X", "Metrics": []}), "AWS/"),
    (_doc({"Namespace": "N", "Dimensions": [["D"]], "Metrics": []}, D=5), "dimension 'D'"),
    (_doc({"Namespace": "N", "Dimensions": [[f"d{i}" for i in range(31)]], "Metrics": []}), "30"),
    (_doc({"Namespace": "N", "Metrics": [{"Name": "m", "Unit": "Parsecs"}]}, m=1), "Unit"),
    (_doc({"Namespace": "N", "Metrics": [{"Name": "m", "StorageResolution": 5}]}, m=1), "StorageResolution"),
    (_doc({"Namespace": "N", "Metrics": [{"Name": "m"}]}, m="fast"), "number"),
    (_doc({"Namespace": "N", "Metrics": [{"Name": "m"}]}, m=list(range(101))), "100"),
    (_doc({"Namespace": "N", "Metrics": [{"Name": f"m{i}"} for i in range(101)]}), "at most 100"),
])
def test_validation_errors_name_the_problem(doc, message):
    with pytest.raises(EmfError, match=message):
        extract(doc, NOW)

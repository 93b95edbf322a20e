"""Metric filters: definitions over the Logs API, datapoints produced as log events are ingested."""

from __future__ import annotations

import datetime as dt
import json
import time

import botocore.exceptions
import pytest

from helpers import run_cli

GROUP = "/aws/ecs/utm-api"


def _code(e: pytest.ExceptionInfo) -> str:
    return e.value.response["Error"]["Code"]


def _wait_stats(cw, name, ns, dims=(), stat="Sum", expect=None, timeout=60.0):
    """Datapoints are published by the ingest listener right after the events are stored."""
    now = dt.datetime.now(dt.UTC)
    deadline = time.monotonic() + timeout
    while True:
        r = cw.get_metric_statistics(
            Namespace=ns,
            MetricName=name,
            Dimensions=[{"Name": k, "Value": v} for k, v in dims],
            StartTime=now - dt.timedelta(minutes=30),
            EndTime=now + dt.timedelta(minutes=5),
            Period=2100,
            Statistics=[stat],
        )
        total = sum(d[stat] for d in r["Datapoints"])
        if expect is None or total == expect or time.monotonic() > deadline:
            return total
        time.sleep(0.05)


@pytest.fixture
def clients(live):
    logs, cw = live.boto3_client("logs"), live.boto3_client("cloudwatch")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="web")
    return logs, cw


def _put(logs, messages):
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="web",
        logEvents=[{"timestamp": now - len(messages) + i, "message": m} for i, m in enumerate(messages)],
    )


def test_5xx_count_from_access_logs(clients):
    logs, cw = clients
    logs.put_metric_filter(
        logGroupName=GROUP,
        filterName="5xx",
        filterPattern="[ip, id, user, timestamp, request, status_code=5*, size]",
        metricTransformations=[
            {
                "metricName": "5XXError",
                "metricNamespace": "UTM/Logs",
                "metricValue": "1",
                "defaultValue": 0.0,
                "unit": "Count",
            }
        ],
    )
    lines = [
        f'10.0.0.{i} - bob [26/Nov/2026:10:00:00 +0000] "GET /api/tenants HTTP/1.1" {code} 512'
        for i, code in enumerate([200, 500, 502, 404, 503, 200])
    ]
    _put(logs, lines)
    assert _wait_stats(cw, "5XXError", "UTM/Logs", expect=3.0) == 3.0
    assert _wait_stats(cw, "5XXError", "UTM/Logs", stat="Maximum") == 1.0
    # A batch without a match reports the default value (0) for its minute.
    _put(logs, [lines[0], lines[3]])
    assert _wait_stats(cw, "5XXError", "UTM/Logs", stat="SampleCount", expect=4.0) == 4.0
    assert _wait_stats(cw, "5XXError", "UTM/Logs") == 3.0


def test_failed_logins_per_ip_and_values_from_fields(clients):
    logs, cw = clients
    logs.put_metric_filter(
        logGroupName=GROUP,
        filterName="failed-logins",
        filterPattern='{ $.action = "login" && $.success IS FALSE }',
        metricTransformations=[
            {
                "metricName": "FailedLogins",
                "metricNamespace": "UTM/Security",
                "metricValue": "1",
                "dimensions": {"IP": "$.ip_address"},
            }
        ],
    )
    logs.put_metric_filter(
        logGroupName=GROUP,
        filterName="latency",
        filterPattern="{ $.duration > 0 }",
        metricTransformations=[
            {
                "metricName": "RequestLatency",
                "metricNamespace": "UTM/Logs",
                "metricValue": "$.duration",
                "unit": "Milliseconds",
            }
        ],
    )
    events = [
        {"action": "login", "success": False, "ip_address": "1.1.1.1", "user_id": "u1"},
        {"action": "login", "success": False, "ip_address": "1.1.1.1", "user_id": "u2"},
        {"action": "login", "success": True, "ip_address": "1.1.1.1", "user_id": "u3"},
        {"action": "login", "success": False, "ip_address": "2.2.2.2", "user_id": "u1"},
        {"path": "/api/users", "duration": 120},
        {"path": "/api/users", "duration": 1500},
        "not json at all",
    ]
    _put(logs, [e if isinstance(e, str) else json.dumps(e) for e in events])
    assert _wait_stats(cw, "FailedLogins", "UTM/Security", [("IP", "1.1.1.1")], expect=2.0) == 2.0
    assert _wait_stats(cw, "FailedLogins", "UTM/Security", [("IP", "2.2.2.2")], expect=1.0) == 1.0
    assert _wait_stats(cw, "RequestLatency", "UTM/Logs", expect=1620.0) == 1620.0
    assert _wait_stats(cw, "RequestLatency", "UTM/Logs", stat="Maximum") == 1500.0
    listed = cw.list_metrics(Namespace="UTM/Security")["Metrics"]
    assert sorted(m["Dimensions"][0]["Value"] for m in listed) == ["1.1.1.1", "2.2.2.2"]


def test_describe_delete_and_bad_input(clients, live):
    logs, _ = clients
    t = [{"metricName": "Errors", "metricNamespace": "UTM/Logs", "metricValue": "1"}]
    for name in ("errors-a", "errors-b", "other"):
        logs.put_metric_filter(
            logGroupName=GROUP, filterName=name, filterPattern="ERROR", metricTransformations=t
        )
    got = logs.describe_metric_filters(logGroupName=GROUP, filterNamePrefix="errors")["metricFilters"]
    assert [f["filterName"] for f in got] == ["errors-a", "errors-b"]
    assert got[0]["metricTransformations"] == [
        {"metricName": "Errors", "metricNamespace": "UTM/Logs", "metricValue": "1"}
    ]
    assert got[0]["logGroupName"] == GROUP and got[0]["filterPattern"] == "ERROR"
    by_metric = logs.describe_metric_filters(metricName="Errors", metricNamespace="UTM/Logs")["metricFilters"]
    assert len(by_metric) == 3
    # Put again replaces.
    logs.put_metric_filter(
        logGroupName=GROUP, filterName="other", filterPattern="WARN", metricTransformations=t
    )
    got = logs.describe_metric_filters(logGroupName=GROUP, filterNamePrefix="other")["metricFilters"]
    assert [f["filterPattern"] for f in got] == ["WARN"]
    logs.delete_metric_filter(logGroupName=GROUP, filterName="other")
    assert len(logs.describe_metric_filters(logGroupName=GROUP)["metricFilters"]) == 2

    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.delete_metric_filter(logGroupName=GROUP, filterName="other")
    assert _code(e) == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.put_metric_filter(
            logGroupName="/nope", filterName="x", filterPattern="", metricTransformations=t
        )
    assert _code(e) == "ResourceNotFoundException"
    bad = [
        ({"filterPattern": "{ $.a = }"}, "filter pattern"),
        ({"metricTransformations": [{**t[0], "metricValue": "abc"}]}, "metricValue"),
        (
            {"metricTransformations": [{**t[0], "defaultValue": 0.0, "dimensions": {"IP": "$.ip"}}]},
            "defaultValue",
        ),
        ({"metricTransformations": [{**t[0], "unit": "Parsecs"}]}, "unit"),
        ({"metricTransformations": [{**t[0], "metricNamespace": "AWS/Logs"}]}, "metricNamespace"),
        (
            {
                "metricTransformations": [
                    {**t[0], "dimensions": {"a": "$.a", "b": "$.b", "c": "$.c", "d": "$.d"}}
                ]
            },
            "dimensions",
        ),
    ]
    for override, needle in bad:
        kw = {
            "logGroupName": GROUP,
            "filterName": "bad",
            "filterPattern": "",
            "metricTransformations": t,
            **override,
        }
        with pytest.raises(botocore.exceptions.ClientError) as e:
            logs.put_metric_filter(**kw)
        assert _code(e) == "InvalidParameterException", needle
        assert needle in e.value.response["Error"]["Message"], (needle, e.value.response["Error"]["Message"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.describe_metric_filters(metricName="Errors")
    assert _code(e) == "InvalidParameterException"

    r = run_cli(
        "--endpoint",
        live.url,
        "logs",
        "describe-metric-filters",
        "--log-group-name",
        GROUP,
        "--output",
        "json",
    )
    assert r.returncode == 0, r.stderr
    assert [f["filterName"] for f in json.loads(r.stdout)["metricFilters"]] == ["errors-a", "errors-b"]


def test_cli_put_metric_filter_shorthand(clients, live):
    r = run_cli("--endpoint", live.url, "logs", "put-metric-filter", "--log-group-name", GROUP,
                "--filter-name", "failed-logins",
                "--filter-pattern", '{ $.action = "login" && $.success IS FALSE }',
                "--metric-transformations",
                "metricName=FailedLogins,metricNamespace=UTM/Security,metricValue=1,dimensions={IP=$.ip_address}")
    assert r.returncode == 0, r.stderr
    logs, _ = clients
    (f,) = logs.describe_metric_filters(logGroupName=GROUP)["metricFilters"]
    assert f["metricTransformations"][0]["dimensions"] == {"IP": "$.ip_address"}

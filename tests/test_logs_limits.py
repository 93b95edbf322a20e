"""Every logs and Insights parameter is checked as AWS checks it, every telemetry query runs under the
configured time and memory limits, and no user text is ever rewritten into SQL."""

from __future__ import annotations

import base64
import json
import time

import httpx
import orjson
import pytest

from rexwatch.errors import QueryMemoryExceeded, QueryTimeout
from rexwatch.services.insights import QueriesService
from rexwatch.stores.telemetry.executor import QueryLimits

GROUP = "/g"


def _forged(**values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.fixture
def door(live):
    c = live.boto3_client("logs")
    c.create_log_group(logGroupName=GROUP)
    c.create_log_stream(logGroupName=GROUP, logStreamName="s")
    t = int(time.time() * 1000)
    c.put_log_events(logGroupName=GROUP, logStreamName="s",
                     logEvents=[{"timestamp": t - 10 + i, "message": f"ERROR {i}"} for i in range(5)])

    def call(op: str, params: dict) -> httpx.Response:
        return httpx.post(live.url + "/", content=orjson.dumps(params),
                          headers={"X-Amz-Target": f"Logs_20140328.{op}",
                                   "Content-Type": "application/x-amz-json-1.1"})

    return call


BAD_TIMES = [
    ({"startTime": 2**63}, "startTime"),
    ({"startTime": -1}, "startTime"),
    ({"endTime": 2**63}, "endTime"),
    ({"endTime": -5}, "endTime"),
    ({"startTime": 2000, "endTime": 1000}, "endTime"),
]


@pytest.mark.parametrize("op", ["FilterLogEvents", "GetLogEvents"])
def test_out_of_range_times_are_400_not_every_event(door, op):
    for params, field in BAD_TIMES:
        r = door(op, {"logGroupName": GROUP, "logStreamName": "s", **params})
        assert r.status_code == 400, (params, r.text)
        assert r.json()["__type"] == "InvalidParameterException" and field in r.json()["message"], r.json()
    # The largest valid long is a time with no events after it, not an error and not everything.
    r = door(op, {"logGroupName": GROUP, "logStreamName": "s", "startTime": 2**63 - 1})
    assert r.status_code == 200 and r.json()["events"] == []
    r = door(op, {"logGroupName": GROUP, "logStreamName": "s", "startTime": 0, "endTime": 2**63 - 1,
                  "startFromHead": True})
    assert r.status_code == 200 and len(r.json()["events"]) == 5


def test_limits_and_forged_tokens_are_400(door):
    cases = [
        ("FilterLogEvents", {"limit": 0}),
        ("FilterLogEvents", {"limit": 10_001}),
        ("FilterLogEvents", {"nextToken": _forged(k="f", s="x", t=1, q=1)}),
        ("FilterLogEvents", {"nextToken": _forged(k="f", s=2**64, t=1, q=1)}),
        ("FilterLogEvents", {"nextToken": _forged(k="f", s=1, t=2**63, q=1)}),
        ("FilterLogEvents", {"nextToken": _forged(k="f", s=1, t=1)}),
        ("FilterLogEvents", {"nextToken": "x" * 5000}),
        ("GetLogEvents", {"logStreamName": "s", "limit": 0}),
        ("GetLogEvents", {"logStreamName": "s", "nextToken": _forged(k="g", d="sideways", t=1, q=1)}),
        ("GetLogEvents", {"logStreamName": "s", "nextToken": _forged(k="g", d="f", t=-(2**63) - 1, q=1)}),
        ("DescribeLogStreams", {"nextToken": _forged(k="ls", o=-3)}),
        ("DescribeLogStreams", {"nextToken": _forged(k="ls", o="1")}),
        ("DescribeLogGroups", {"nextToken": _forged(k="lg", a=7)}),
        ("DescribeMetricFilters", {"nextToken": "-1"}),
        ("StartQuery", {"queryString": "fields @message", "startTime": 2**63, "endTime": 2**63}),
        ("StartQuery", {"queryString": "fields @message", "startTime": -1, "endTime": 10}),
        ("StartQuery", {"queryString": "fields @message", "startTime": 10, "endTime": 5}),
        ("DescribeQueries", {"maxResults": 0}),
        ("DescribeQueries", {"nextToken": "@@@"}),
        ("DescribeQueryDefinitions", {"maxResults": 1001}),
        ("FilterLogEvents", {"logStreamNames": [f"s{i}" for i in range(101)]}),
        ("FilterLogEvents", {"logStreamNames": ["a:b"]}),
        ("DescribeIndexPolicies", {"logGroupIdentifiers": [GROUP, "/other"]}),
        ("DescribeFieldIndexes", {"logGroupIdentifiers": []}),
    ]
    problems = []
    for op, params in cases:
        r = door(op, {"logGroupName": GROUP, **params})
        body = r.json()
        if r.status_code != 400 or body.get("__type") != "InvalidParameterException":
            problems.append((op, params, r.status_code, body))
    assert problems == []


def test_huge_valid_query_times_select_nothing(live, door):
    logs = live.boto3_client("logs")
    qid = logs.start_query(logGroupName=GROUP, startTime=2**62, endTime=2**63 - 1,
                           queryString="fields @message")["queryId"]
    res = live.runtime.service(QueriesService).wait(qid, 60)
    assert res.status == "Complete" and res.rows == []


def test_a_query_over_its_time_limit_is_a_clear_error(live, door):
    live.runtime.telemetry.limits = QueryLimits(max_execution_s=0.000001)
    r = door("FilterLogEvents", {"logGroupName": GROUP, "filterPattern": "ERROR"})
    assert r.status_code == 400 and r.json()["__type"] == "LimitExceededException"
    assert "longer than its limit" in r.json()["message"]
    rest = httpx.post(live.url + "/api/v1/logs/filter", json={"groups": [GROUP]})
    assert rest.status_code == 400 and rest.json()["error"]["code"] == "QueryTimeout"
    # Ingest is not a query: it goes on under the same limits.
    r = door("PutLogEvents", {"logGroupName": GROUP, "logStreamName": "s",
                              "logEvents": [{"timestamp": int(time.time() * 1000), "message": "still stored"}]})
    assert r.status_code == 200
    live.runtime.telemetry.limits = QueryLimits()
    r = door("FilterLogEvents", {"logGroupName": GROUP, "filterPattern": '"still stored"'})
    assert [e["message"] for e in r.json()["events"]] == ["still stored"]


def test_executor_applies_the_memory_limit(runtime):
    x = runtime.telemetry
    x.limits = QueryLimits(max_memory_bytes=16 << 20)
    with pytest.raises(QueryMemoryExceeded, match="memory limit of 16 MiB"):
        x.query_rows("SELECT groupArray(number) FROM numbers(10000000)")
    with pytest.raises(QueryTimeout):
        x.query_rows("SELECT count() FROM numbers(10)", settings={"max_execution_time": 0.000001})
    # A statement's own settings win over the defaults.
    assert x.query_rows("SELECT length(groupArray(number)) FROM numbers(10000000)",
                        settings={"max_memory_usage": 1 << 30}) == [(10_000_000,)]


def test_insights_over_its_memory_limit_fails_as_aws_reports_it(live, door):
    # 1 KiB: the aggregation's first hash table is already over it.
    live.runtime.telemetry.limits = QueryLimits(max_memory_bytes=1024)
    logs = live.boto3_client("logs")
    now = int(time.time())
    qid = logs.start_query(logGroupName=GROUP, startTime=now - 3600, endTime=now + 60,
                           queryString="stats count() by @message, bin(1s)")["queryId"]
    res = live.runtime.service(QueriesService).wait(qid, 60)
    live.runtime.telemetry.limits = QueryLimits()
    assert res.status == "Failed" and "memory limit of 0 MiB" in (res.error or ""), res
    assert logs.get_query_results(queryId=qid)["status"] == "Failed"


def test_insights_literals_that_look_like_placeholders_are_left_alone(live, door):
    logs = live.boto3_client("logs")
    t = int(time.time() * 1000)
    logs.put_log_events(logGroupName=GROUP, logStreamName="s",
                        logEvents=[{"timestamp": t, "message": "payload {db} and {db:Identifier} here"}])
    now = int(time.time())
    svc = live.runtime.service(QueriesService)
    qid = logs.start_query(logGroupName=GROUP, startTime=now - 3600, endTime=now + 60,
                           queryString='filter @message like "{db}" | fields "{db}" as lit, @message')["queryId"]
    res = svc.wait(qid, 60)
    assert res.status == "Complete", res.error
    assert [(r[0], r[1]) for r in res.rows] == [("{db}", "payload {db} and {db:Identifier} here")]

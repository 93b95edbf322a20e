"""Malformed requests of every kind get a 4xx AWS-shaped error naming the problem, never a 500."""

from __future__ import annotations

import httpx
import pytest

CASES: list[tuple[str, dict | bytes]] = [
    ("CreateLogGroup", {}),
    ("CreateLogGroup", {"logGroupName": 5}),
    ("CreateLogGroup", {"logGroupName": "x" * 513}),
    ("CreateLogGroup", {"logGroupName": "ok", "logGroupClass": "GOLD"}),
    ("DeleteLogGroup", {"logGroupName": "/missing"}),
    ("CreateLogStream", {"logGroupName": "/g", "logStreamName": "a:b"}),
    ("CreateLogStream", {"logGroupName": "/missing", "logStreamName": "s"}),
    ("DescribeLogGroups", {"limit": 0}),
    ("DescribeLogGroups", {"limit": "ten"}),
    ("DescribeLogGroups", {"nextToken": "garbage"}),
    ("DescribeLogGroups", {"logGroupNamePrefix": "/a", "logGroupNamePattern": "b"}),
    ("DescribeLogStreams", {"logGroupName": "/g", "orderBy": "Size"}),
    ("DescribeLogStreams", {"logGroupName": "/g", "orderBy": "LastEventTime", "logStreamNamePrefix": "s"}),
    ("DescribeLogStreams", {}),
    ("DescribeLogStreams", {"logGroupName": "/g", "nextToken": "%%%"}),
    ("PutLogEvents", {"logGroupName": "/g", "logStreamName": "s"}),
    ("PutLogEvents", {"logGroupName": "/g", "logStreamName": "s", "logEvents": "nope"}),
    ("PutLogEvents", {"logGroupName": "/g", "logStreamName": "s", "logEvents": []}),
    ("PutLogEvents", {"logGroupName": "/g", "logStreamName": "s", "logEvents": [{"timestamp": "x", "message": "m"}]}),
    ("PutLogEvents", {"logGroupName": "/g", "logStreamName": "s", "logEvents": [{"message": "m"}]}),
    ("PutLogEvents", {"logGroupName": "/g", "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": ""}]}),
    ("PutLogEvents", {"logGroupName": "/g", "logStreamName": "s", "logEvents": [1, 2]}),
    ("PutLogEvents", b'{"logGroupName": "/g", "logStreamName": "s", "logEvents": [{"timestamp": 1e30, "message": "m"}]}'),
    ("GetLogEvents", {"logGroupName": "/g", "logStreamName": "s", "nextToken": "abc"}),
    ("GetLogEvents", {"logGroupName": "/g", "logStreamName": "s", "limit": 10001}),
    ("GetLogEvents", {"logGroupName": "/g", "logStreamName": "missing"}),
    ("GetLogEvents", {"logGroupName": "/g"}),
    ("FilterLogEvents", {"logGroupName": "/g", "startTime": 10, "endTime": 5}),
    ("FilterLogEvents", {"logGroupName": "/g", "startTime": -1}),
    ("FilterLogEvents", {"logGroupName": "/g", "filterPattern": "{ $.a > }"}),
    ("FilterLogEvents", {"logGroupName": "/g", "logStreamNames": ["s"], "logStreamNamePrefix": "s"}),
    ("FilterLogEvents", {"logGroupName": "/g", "nextToken": "eyJrIjoiZyJ9"}),
    ("FilterLogEvents", {}),
    ("FilterLogEvents", {"logGroupName": "/g", "logGroupIdentifier": "/g"}),
    ("FilterLogEvents", {"logGroupIdentifier": "arn:aws:logs:us-east-1:0:not-a-group:/g"}),
    ("PutRetentionPolicy", {"logGroupName": "/g", "retentionInDays": "30"}),
    ("PutRetentionPolicy", {"logGroupName": "/g"}),
    ("PutIndexPolicy", {"logGroupIdentifier": "/g", "policyDocument": '{"Fields": "x"}'}),
    ("PutIndexPolicy", {"logGroupIdentifier": "/g", "policyDocument": '{"Fields": ["bad field!"]}'}),
    ("DeleteIndexPolicy", {"logGroupIdentifier": "/g"}),
    ("DescribeIndexPolicies", {"logGroupIdentifiers": ["/missing"]}),
    ("TestMetricFilter", {"filterPattern": "ERROR", "logEventMessages": []}),
    ("TestMetricFilter", {"filterPattern": "[a,", "logEventMessages": ["x"]}),
]


@pytest.fixture
def door(live):
    c = live.boto3_client("logs")
    c.create_log_group(logGroupName="/g")
    c.create_log_stream(logGroupName="/g", logStreamName="s")

    def call(op: str, params: dict | bytes) -> httpx.Response:
        import orjson

        return httpx.post(live.url + "/", content=params if isinstance(params, bytes) else orjson.dumps(params),
                          headers={"X-Amz-Target": f"Logs_20140328.{op}",
                                   "Content-Type": "application/x-amz-json-1.1"})

    return call


def test_every_malformed_request_is_a_clear_4xx(door):
    problems = []
    for op, params in CASES:
        r = door(op, params)
        body = r.json()
        if not (400 <= r.status_code < 500) or not body.get("__type") or not body.get("message"):
            problems.append((op, params, r.status_code, body))
    assert problems == []

"""TestMetricFilter through every door: boto3 (AWS JSON 1.1), the REST API and the CLI."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from helpers import run_cli

ACCESS = [
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 1534',
    '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324',
    '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355',
]
PATTERN = "[ip, id, user, timestamp, request, status_code = 4* || status_code = 5*, bytes]"


def test_boto3_test_metric_filter(live):
    logs = live.boto3_client("logs")
    out = logs.test_metric_filter(filterPattern=PATTERN, logEventMessages=ACCESS)
    assert [m["eventNumber"] for m in out["matches"]] == [1, 2]
    assert out["matches"][0]["eventMessage"] == ACCESS[0]
    assert out["matches"][0]["extractedValues"]["$status_code"] == "404"
    assert out["matches"][1]["extractedValues"]["$bytes"] == "5324"
    assert out["matches"][0]["extractedValues"]["$request"] == "GET /apache_pb.gif HTTP/1.0"

    json_events = ['{"duration": 1500, "path": "/a"}', '{"duration": 20}', "not json"]
    out = logs.test_metric_filter(filterPattern="{ $.duration > 1000 }", logEventMessages=json_events)
    assert out["matches"] == [
        {"eventNumber": 1, "eventMessage": json_events[0], "extractedValues": {"$.duration": "1500"}}
    ]


def test_boto3_malformed_pattern_is_invalid_parameter(live):
    logs = live.boto3_client("logs")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.test_metric_filter(filterPattern="{ $.duration > fast }", logEventMessages=["x"])
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidParameterException"
    assert "expected a number" in err["Message"] and "column 16" in err["Message"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.test_metric_filter(filterPattern="x" * 1025, logEventMessages=["x"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


def test_rest_test_pattern(client):
    r = client.post(
        "/api/v1/logs/filter-patterns/test",
        json={"filter_pattern": "ERROR -DEBUG", "messages": ["ERROR boom", "DEBUG ERROR", "fine"]},
    )
    assert r.status_code == 200
    assert r.json() == {
        "matches": [{"event_number": 1, "event_message": "ERROR boom", "extracted_values": {}}]
    }

    r = client.post(
        "/api/v1/logs/filter-patterns/test", json={"filter_pattern": '{ $.a = "x"', "messages": ["x"]}
    )
    assert r.status_code == 400
    body = r.json()["error"]
    assert body["code"] == "QueryError" and "closing the JSON pattern" in body["message"]

    r = client.post("/api/v1/logs/filter-patterns/test", json={"filter_pattern": "x", "messages": []})
    assert r.status_code == 400
    assert "1 to 50" in r.json()["error"]["message"]


def test_cli_test_metric_filter(live):
    res = run_cli(
        "--endpoint",
        live.url,
        "logs",
        "test-metric-filter",
        "--filter-pattern",
        PATTERN,
        "--log-event-messages",
        *ACCESS,
        "--output",
        "json",
    )
    assert res.returncode == 0, res.stderr
    matches = json.loads(res.stdout)["matches"]
    assert [m["extractedValues"]["$status_code"] for m in matches] == ["404", "500"]

"""The runbook's metric workflows through the real CLI (AWS CLI driver) and the REST API."""

from __future__ import annotations

import datetime as dt
import json

from helpers import run_cli

NS = "UTM/Application"


def test_cli_put_metric_data_and_statistics(live):
    r = run_cli(
        "--endpoint",
        live.url,
        "cloudwatch",
        "put-metric-data",
        "--namespace",
        NS,
        "--metric-name",
        "APILatency",
        "--value",
        "123",
        "--unit",
        "Milliseconds",
    )
    assert r.returncode == 0, r.stderr
    r = run_cli(
        "--endpoint",
        live.url,
        "cloudwatch",
        "put-metric-data",
        "--namespace",
        NS,
        "--metric-name",
        "APILatency",
        "--value",
        "77",
        "--unit",
        "Milliseconds",
        "--dimensions",
        "Service=api",
    )
    assert r.returncode == 0, r.stderr
    now = dt.datetime.now(dt.UTC)
    r = run_cli(
        "--endpoint",
        live.url,
        "cloudwatch",
        "get-metric-statistics",
        "--namespace",
        NS,
        "--metric-name",
        "APILatency",
        "--statistics",
        "Maximum",
        "SampleCount",
        "--extended-statistics",
        "p99",
        "--period",
        "300",
        "--start-time",
        (now - dt.timedelta(minutes=10)).isoformat(),
        "--end-time",
        (now + dt.timedelta(minutes=5)).isoformat(),
        "--output",
        "json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["Label"] == "APILatency"
    assert [
        (d["Maximum"], d["SampleCount"], d["ExtendedStatistics"]["p99"], d["Unit"]) for d in out["Datapoints"]
    ] == [(123.0, 1.0, 123.0, "Milliseconds")]
    r = run_cli(
        "--endpoint",
        live.url,
        "cloudwatch",
        "list-metrics",
        "--namespace",
        NS,
        "--dimensions",
        "Name=Service,Value=api",
        "--output",
        "json",
    )
    assert r.returncode == 0, r.stderr
    assert [m["Dimensions"] for m in json.loads(r.stdout)["Metrics"]] == [
        [{"Name": "Service", "Value": "api"}]
    ]
    # A rule broken at the server comes back as the AWS CLI reports it.
    r = run_cli(
        "--endpoint",
        live.url,
        "cloudwatch",
        "put-metric-data",
        "--namespace",
        "AWS/ECS",
        "--metric-name",
        "CPUUtilization",
        "--value",
        "1",
    )
    assert r.returncode != 0
    assert "InvalidParameterValue" in r.stderr and "Namespace" in r.stderr


def test_cli_graph(live):
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    cw = live.boto3_client("cloudwatch")
    cw.put_metric_data(
        Namespace=NS,
        MetricData=[
            {"MetricName": "RequestCount", "Value": float(v), "Timestamp": now - dt.timedelta(minutes=10 - i)}
            for i, v in enumerate([5, 10, 20, 40, 20, 10])
        ],
    )
    r = run_cli(
        "--endpoint",
        live.url,
        "--output",
        "json",
        "cloudwatch",
        "graph",
        "--namespace",
        NS,
        "--metric-name",
        "RequestCount",
        "--statistic",
        "Sum",
        "--period",
        "60",
        "--start-time",
        "30m",
    )
    assert r.returncode == 0, r.stderr
    assert [p["value"] for p in json.loads(r.stdout)["points"]] == [5.0, 10.0, 20.0, 40.0, 20.0, 10.0]
    r = run_cli(
        "--endpoint",
        live.url,
        "--output",
        "table",
        "cloudwatch",
        "graph",
        "--namespace",
        NS,
        "--metric-name",
        "RequestCount",
        "--statistic",
        "Sum",
        "--period",
        "60",
        "--start-time",
        "30m",
        "--height",
        "4",
    )
    assert r.returncode == 0, r.stderr
    assert "█" in r.stdout and "RequestCount Sum" in r.stdout and "max 40" in r.stdout
    r = run_cli("--endpoint", live.url, "--output", "table", "cloudwatch", "graph", "--namespace", NS,
                "--metric-name", "RequestCount", "--statistic", "Sum", "--period", "60", "--start-time", "30m",
                "--height", "1")
    assert r.returncode == 0, r.stderr
    assert "▁▂▄█▄▂" in r.stdout
    r = run_cli(
        "--endpoint",
        live.url,
        "cloudwatch",
        "graph",
        "--namespace",
        NS,
        "--metric-name",
        "X",
        "--start-time",
        "yesterday-ish",
    )
    assert r.returncode == 2 and "is not a time" in r.stderr


def test_rest_metrics_roundtrip(client):
    r = client.post(
        "/api/v1/metrics/data",
        json={
            "namespace": NS,
            "metric_data": [
                {"metric_name": "InvitationSent", "value": 1, "unit": "Count", "timestamp": "2m"},
                {
                    "metric_name": "InvitationSent",
                    "values": [1, 2],
                    "counts": [2, 1],
                    "unit": "Count",
                    "timestamp": "1m",
                },
            ],
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 2, "rows": 3}
    r = client.get(
        "/api/v1/metrics/statistics",
        params={
            "namespace": NS,
            "metric_name": "InvitationSent",
            "start": "10m",
            "period": 600,
            "statistics": "Sum",
        },
    )
    assert r.status_code == 200, r.text
    assert [d["Sum"] for d in r.json()["datapoints"]] in ([5.0], [1.0, 4.0])
    r = client.get("/api/v1/metrics", params={"namespace": NS})
    assert [m["metric_name"] for m in r.json()["metrics"]] == ["InvitationSent"]
    r = client.post(
        "/api/v1/metrics/query",
        json={
            "start": "10m",
            "scan_by": "TimestampAscending",
            "queries": [
                {
                    "id": "s",
                    "metric_stat": {
                        "namespace": NS,
                        "metric_name": "InvitationSent",
                        "period": 600,
                        "stat": "SampleCount",
                    },
                    "return_data": False,
                },
                {"id": "e", "expression": "s * 2"},
            ],
        },
    )
    assert r.status_code == 200, r.text
    assert sum(r.json()["results"][0]["values"]) == 8.0


def test_rest_bad_input_is_a_clear_400(client):
    r = client.post(
        "/api/v1/metrics/data",
        json={
            "namespace": NS,
            "metric_data": [
                {"metric_name": "ok", "value": 1},
                {"metric_name": "bad", "value": 1, "unit": "Furlongs"},
            ],
        },
    )
    assert r.status_code == 400
    # The REST door spells the field in its own body's names (0-based, snake_case).
    err = r.json()["error"]
    assert err["field"] == "metric_data[1].unit" and "metric_data[1].unit" in err["message"]
    r = client.get(
        "/api/v1/metrics/statistics", params={"namespace": NS, "metric_name": "x", "start": "1h", "period": 7}
    )
    assert r.status_code == 400 and "period" in r.json()["error"]["message"]
    r = client.post(
        "/api/v1/metrics/query", json={"start": "1h", "queries": [{"id": "e", "expression": "1 +"}]}
    )
    assert r.status_code == 400 and "column" in r.json()["error"]["message"]


def test_cli_get_metric_data_from_file(live, tmp_path):
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    cw = live.boto3_client("cloudwatch")
    cw.put_metric_data(Namespace=NS, MetricData=[
        {"MetricName": "CacheHits", "Value": 90.0, "Timestamp": now - dt.timedelta(minutes=2)},
        {"MetricName": "CacheMisses", "Value": 10.0, "Timestamp": now - dt.timedelta(minutes=2)},
    ])
    q = tmp_path / "q.json"
    q.write_text(json.dumps([
        {"Id": "h", "MetricStat": {"Metric": {"Namespace": NS, "MetricName": "CacheHits"}, "Period": 60,
                                   "Stat": "Sum"}, "ReturnData": False},
        {"Id": "m", "MetricStat": {"Metric": {"Namespace": NS, "MetricName": "CacheMisses"}, "Period": 60,
                                   "Stat": "Sum"}, "ReturnData": False},
        {"Id": "ratio", "Expression": "100 * h / (h + m)", "Label": "Cache hit ratio"},
    ]))
    r = run_cli("--endpoint", live.url, "cloudwatch", "get-metric-data", "--metric-data-queries", f"file://{q}",
                "--start-time", (now - dt.timedelta(minutes=10)).isoformat(), "--end-time", now.isoformat(),
                "--output", "json")
    assert r.returncode == 0, r.stderr
    (res,) = json.loads(r.stdout)["MetricDataResults"]
    assert res["Label"] == "Cache hit ratio" and res["Values"] == [90.0]


def test_openapi_lists_metrics_routes(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert {"/api/v1/metrics", "/api/v1/metrics/data", "/api/v1/metrics/statistics", "/api/v1/metrics/query"} <= set(paths)

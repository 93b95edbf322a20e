"""CloudWatch metrics over the AWS wire (boto3 speaks smithy RPC v2 CBOR; JSON 1.0 by hand)."""

from __future__ import annotations

import datetime as dt

import botocore.exceptions
import cbor2
import httpx
import pytest

NS = "UTM/Application"


@pytest.fixture(params=["smithy-rpc-v2-cbor", "json"])
def cw(request, live, monkeypatch):
    """A boto3 CloudWatch client speaking CBOR (what the model lists) or JSON 1.0 (botocore's default pick)."""
    import botocore.model

    order = (
        request.param,
        *[p for p in botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS if p != request.param],
    )
    monkeypatch.setattr(botocore.model, "PRIORITY_ORDERED_SUPPORTED_PROTOCOLS", order)
    client = live.boto3_client("cloudwatch")
    assert client.meta.service_model.resolved_protocol == request.param
    monkeypatch.undo()
    return client


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _code(e: pytest.ExceptionInfo) -> str:
    return e.value.response["Error"]["Code"]


def test_put_and_statistics_with_percentiles(cw):
    now = _now()
    t0 = now.replace(second=0) - dt.timedelta(minutes=10)
    data = [
        {
            "MetricName": "APILatency",
            "Dimensions": [{"Name": "Service", "Value": "api"}],
            "Timestamp": t0 + dt.timedelta(seconds=i),
            "Value": float(i),
            "Unit": "Milliseconds",
        }
        for i in range(1, 101)
    ]
    cw.put_metric_data(Namespace=NS, MetricData=data)
    r = cw.get_metric_statistics(
        Namespace=NS,
        MetricName="APILatency",
        Dimensions=[{"Name": "Service", "Value": "api"}],
        StartTime=t0,
        EndTime=now,
        Period=60,
        Statistics=["SampleCount", "Average", "Sum", "Minimum", "Maximum"],
        ExtendedStatistics=["p99", "p50"],
    )
    assert r["Label"] == "APILatency"
    pts = sorted(r["Datapoints"], key=lambda d: d["Timestamp"])
    assert [p["SampleCount"] for p in pts] == [59.0, 41.0]
    first = pts[0]
    assert first["Timestamp"] == t0
    assert first["Minimum"] == 1.0 and first["Maximum"] == 59.0 and first["Sum"] == sum(range(1, 60))
    assert first["Average"] == pytest.approx(30.0)
    assert first["ExtendedStatistics"] == {"p99": 59.0, "p50": 30.0}
    assert first["Unit"] == "Milliseconds"
    # Another dimension set is another series.
    r2 = cw.get_metric_statistics(
        Namespace=NS, MetricName="APILatency", StartTime=t0, EndTime=now, Period=60, Statistics=["Sum"]
    )
    assert r2["Datapoints"] == []


def test_values_counts_and_statistic_sets(cw):
    now = _now()
    cw.put_metric_data(
        Namespace=NS,
        MetricData=[
            {"MetricName": "TenantCreated", "Values": [1.0, 5.0], "Counts": [3.0, 1.0], "Timestamp": now},
            {
                "MetricName": "TenantCreated",
                "StatisticValues": {"SampleCount": 4, "Sum": 20, "Minimum": 0.5, "Maximum": 9},
                "Timestamp": now,
            },
        ],
    )
    r = cw.get_metric_statistics(
        Namespace=NS,
        MetricName="TenantCreated",
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(minutes=5),
        Period=300,
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"],
    )
    (p,) = r["Datapoints"]
    assert p["SampleCount"] == 8.0 and p["Sum"] == 28.0 and p["Minimum"] == 0.5 and p["Maximum"] == 9.0
    assert p["Average"] == 3.5


@pytest.mark.parametrize(
    ("kwargs", "code", "needle"),
    [
        (
            {"Namespace": "AWS/EC2", "MetricData": [{"MetricName": "x", "Value": 1}]},
            "InvalidParameterValue",
            "Namespace",
        ),
        (
            {
                "Namespace": NS,
                "MetricData": [
                    {"MetricName": "x", "Value": 1},
                    {
                        "MetricName": "y",
                        "Value": 1,
                        "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1},
                    },
                ],
            },
            "InvalidParameterCombination",
            "MetricData.member.2.",
        ),
        (
            {"Namespace": NS, "MetricData": [{"MetricName": "x"}]},
            "MissingParameter",
            "MetricData.member.1.Value",
        ),
        (
            {"Namespace": NS, "MetricData": [{"MetricName": "x", "Value": 1, "Unit": "Parsecs"}]},
            "InvalidParameterValue",
            "MetricData.member.1.Unit",
        ),
        (
            {"Namespace": NS, "MetricData": [{"MetricName": "x", "Value": 1, "StorageResolution": 5}]},
            "InvalidParameterValue",
            "StorageResolution",
        ),
        (
            {"Namespace": NS, "MetricData": [{"MetricName": "x", "Values": [1, 2], "Counts": [1]}]},
            "InvalidParameterValue",
            "MetricData.member.1.Counts",
        ),
        (
            {
                "Namespace": NS,
                "MetricData": [
                    {
                        "MetricName": "x",
                        "Value": 1,
                        "Timestamp": dt.datetime.now(dt.UTC) - dt.timedelta(days=15),
                    }
                ],
            },
            "InvalidParameterValue",
            "MetricData.member.1.Timestamp",
        ),
        (
            {
                "Namespace": NS,
                "MetricData": [
                    {
                        "MetricName": "x",
                        "Value": 1,
                        "Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(31)],
                    }
                ],
            },
            "InvalidParameterValue",
            "Dimensions",
        ),
        (
            {"Namespace": NS, "MetricData": [{"MetricName": "x", "Values": [float(i) for i in range(151)]}]},
            "InvalidParameterValue",
            "Values",
        ),
        (
            {"Namespace": NS, "MetricData": [{"MetricName": "x", "Value": float("nan")}]},
            "InvalidParameterValue",
            "MetricData.member.1.Value",
        ),
    ],
)
def test_put_metric_data_rejects_bad_items(cw, kwargs, code, needle):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_data(**kwargs)
    assert _code(e) == code
    assert needle in e.value.response["Error"]["Message"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_modeled_exception_classes_match(cw):
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        cw.put_metric_data(Namespace="AWS/X", MetricData=[{"MetricName": "x", "Value": 1}])


def test_get_metric_statistics_rules(cw):
    now = _now()
    base = {
        "Namespace": NS,
        "MetricName": "APILatency",
        "StartTime": now - dt.timedelta(days=2),
        "EndTime": now,
    }
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_statistics(**base, Period=60, Statistics=["Sum"])
    assert _code(e) == "InvalidParameterCombination" and "1440" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_statistics(**base, Period=90, Statistics=["Sum"])
    assert _code(e) == "InvalidParameterValue"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_statistics(**base, Period=3600)
    assert _code(e) == "InvalidParameterCombination"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_statistics(**base, Period=3600, ExtendedStatistics=["p101"])
    assert _code(e) == "InvalidParameterValue"


def test_list_metrics_filters_and_recently_active(cw):
    now = _now()
    cw.put_metric_data(
        Namespace=NS,
        MetricData=[
            {
                "MetricName": "RequestCount",
                "Dimensions": [{"Name": "Path", "Value": p}],
                "Value": 1,
                "Timestamp": now,
            }
            for p in ("/a", "/b")
        ]
        + [{"MetricName": "InvitationSent", "Value": 1, "Timestamp": now}],
    )
    cw.put_metric_data(Namespace="Other", MetricData=[{"MetricName": "RequestCount", "Value": 1}])
    r = cw.list_metrics(Namespace=NS)
    names = sorted(
        (m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in r["Metrics"]
    )
    assert names == [
        ("InvitationSent", ()),
        ("RequestCount", (("Path", "/a"),)),
        ("RequestCount", (("Path", "/b"),)),
    ]
    r = cw.list_metrics(Dimensions=[{"Name": "Path", "Value": "/b"}])
    assert [m["Dimensions"] for m in r["Metrics"]] == [[{"Name": "Path", "Value": "/b"}]]
    r = cw.list_metrics(Dimensions=[{"Name": "Path"}], RecentlyActive="PT3H")
    assert len(r["Metrics"]) == 2
    r = cw.list_metrics(MetricName="RequestCount")
    assert {m["Namespace"] for m in r["Metrics"]} == {NS, "Other"}


def test_cloudwatch_json_protocol(live):
    now = _now()
    body = {
        "Namespace": NS,
        "MetricData": [{"MetricName": "Json", "Value": 7.5, "Timestamp": now.timestamp()}],
    }
    h = {
        "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData",
        "Content-Type": "application/x-amz-json-1.0",
    }
    r = httpx.post(live.url + "/", json=body, headers=h)
    assert r.status_code == 200, r.text
    h["X-Amz-Target"] = "GraniteServiceVersion20100801.GetMetricStatistics"
    r = httpx.post(
        live.url + "/",
        headers=h,
        json={
            "Namespace": NS,
            "MetricName": "Json",
            "StartTime": now.timestamp() - 600,
            "EndTime": now.timestamp() + 60,
            "Period": 60,
            "Statistics": ["Maximum"],
        },
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-amz-json-1.0")
    assert [d["Maximum"] for d in r.json()["Datapoints"]] == [7.5]
    h["X-Amz-Target"] = "GraniteServiceVersion20100801.PutMetricData"
    r = httpx.post(
        live.url + "/",
        headers=h,
        json={"Namespace": "AWS/Nope", "MetricData": [{"MetricName": "x", "Value": 1}]},
    )
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterValue"


def test_cbor_wire_shape_of_errors(live):
    body = cbor2.dumps({"Namespace": "AWS/Nope", "MetricData": [{"MetricName": "x", "Value": 1.0}]})
    r = httpx.post(
        live.url + "/service/GraniteServiceVersion20100801/operation/PutMetricData",
        content=body,
        headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"},
    )
    assert r.status_code == 400
    assert r.headers["smithy-protocol"] == "rpc-v2-cbor"
    err = cbor2.loads(r.content)
    assert err["__type"] == "com.amazonaws.cloudwatch#InvalidParameterValueException"
    assert r.headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    r = httpx.post(
        live.url + "/service/GraniteServiceVersion20100801/operation/PutMetricData",
        content=b"\xff\x00garbage",
        headers={"smithy-protocol": "rpc-v2-cbor"},
    )
    assert r.status_code == 400
    assert cbor2.loads(r.content)["__type"] == "SerializationException"


def test_high_resolution_periods(cw):
    now = _now()
    t0 = now - dt.timedelta(minutes=2)
    t0 = t0.replace(second=0)
    cw.put_metric_data(Namespace=NS, MetricData=[
        {"MetricName": "HiRes", "Value": float(s), "StorageResolution": 1, "Timestamp": t0 + dt.timedelta(seconds=s)}
        for s in range(30)
    ])
    r = cw.get_metric_statistics(Namespace=NS, MetricName="HiRes", StartTime=t0, EndTime=t0 + dt.timedelta(seconds=30),
                                 Period=10, Statistics=["Sum", "SampleCount"])
    pts = sorted(r["Datapoints"], key=lambda d: d["Timestamp"])
    assert [(p["Sum"], p["SampleCount"]) for p in pts] == [(45.0, 10.0), (145.0, 10.0), (245.0, 10.0)]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": "HiRes", "Value": 1, "StorageResolution": 10}])
    assert _code(e) == "InvalidParameterValue"


def test_get_metric_data_both_protocols(cw):
    t0 = _now().replace(second=0) - dt.timedelta(minutes=5)
    cw.put_metric_data(Namespace=NS, MetricData=[
        {"MetricName": "CacheHits", "Value": 30.0, "Timestamp": t0},
        {"MetricName": "CacheHits", "Value": 10.0, "Timestamp": t0 + dt.timedelta(minutes=1)},
        {"MetricName": "CacheMisses", "Value": 10.0, "Timestamp": t0},
    ])
    q = [
        {"Id": "h", "MetricStat": {"Metric": {"Namespace": NS, "MetricName": "CacheHits"}, "Period": 60,
                                   "Stat": "Sum"}},
        {"Id": "m", "MetricStat": {"Metric": {"Namespace": NS, "MetricName": "CacheMisses"}, "Period": 60,
                                   "Stat": "Sum"}, "ReturnData": False},
        {"Id": "ratio", "Expression": "100 * h / (h + FILL(m, 0))", "Label": "hit ratio"},
    ]
    r = cw.get_metric_data(MetricDataQueries=q, StartTime=t0, EndTime=t0 + dt.timedelta(minutes=3))
    by_id = {x["Id"]: x for x in r["MetricDataResults"]}
    assert by_id["h"]["Timestamps"] == [t0 + dt.timedelta(minutes=1), t0]  # newest first by default
    assert by_id["h"]["Values"] == [10.0, 30.0]
    assert by_id["ratio"]["Label"] == "hit ratio" and by_id["ratio"]["Values"] == [100.0, 75.0]
    pages = list(cw.get_paginator("get_metric_data").paginate(
        MetricDataQueries=q, StartTime=t0, EndTime=t0 + dt.timedelta(minutes=3), ScanBy="TimestampAscending",
        PaginationConfig={"PageSize": 1}))
    assert len(pages) >= 3
    assert [v for p in pages for x in p["MetricDataResults"] if x["Id"] == "h" for v in x["Values"]] == [30.0, 10.0]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_data(MetricDataQueries=q, StartTime=t0, EndTime=t0 + dt.timedelta(minutes=3), NextToken="!!")
    assert _code(e) == "InvalidNextToken"

"""Bounded cost for metric reads: datapoint limits checked before anything is allocated, work sized
by the data that exists, and absurd times or expressions answered with a 400 in the AWS shape."""

from __future__ import annotations

import datetime as dt
import json
import math
import tracemalloc

import botocore.exceptions
import cbor2
import httpx
import pytest

from rexwatch.errors import InvalidCombination
from rexwatch.services.metrics import MetricDataQuery, MetricDatum, MetricId, MetricsService, MetricStatSpec
from rexwatch.services.metrics.getdata import MAX_POINTS_PER_QUERY

NS = "UTM/Application"
TARGET = "GraniteServiceVersion20100801."
CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/"


@pytest.fixture(params=["smithy-rpc-v2-cbor", "json", "query"])
def cw(request, live, monkeypatch):
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


def _err(e: pytest.ExceptionInfo) -> tuple[str, str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def _stat(qid: str, period: int, name: str = "Cpu") -> dict:
    return {"Id": qid, "MetricStat": {"Metric": {"Namespace": NS, "MetricName": name}, "Period": period,
                                      "Stat": "Sum"}}


def test_get_metric_data_refuses_more_than_its_datapoint_limit(cw):
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    for seconds in (5e7, 4e9 - start.timestamp()):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            cw.get_metric_data(MetricDataQueries=[_stat("m1", 1)], StartTime=start,
                               EndTime=start + dt.timedelta(seconds=seconds))
        code, message, status = _err(e)
        assert (code, status) == ("InvalidParameterCombination", 400)
        assert "exceeds the limit of 100800" in message and "MetricDataQueries" in message


def test_exactly_the_limit_is_read_by_the_data_that_exists(runtime):
    """70 days at 60 s is 100,800 periods per query; 50 such queries hold three points in all."""
    svc = runtime.service(MetricsService)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    svc.put_metric_data(NS, [MetricDatum("Cpu", [], now - dt.timedelta(minutes=m), float(m)) for m in (1, 2, 3)])
    end = now
    start = end - dt.timedelta(minutes=MAX_POINTS_PER_QUERY)
    queries = [
        MetricDataQuery(f"m{i}", MetricStatSpec(MetricId(NS, "Cpu"), 60, "Sum")) for i in range(50)
    ] + [MetricDataQuery("e", expression="m0 * 2 + SUM(METRICS())")]
    svc.flush()
    tracemalloc.start()
    try:
        page = svc.get_metric_data(queries, start, end, scan_by="TimestampAscending")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [r.values for r in page.results[:1]] == [[3.0, 2.0, 1.0]]
    assert page.results[-1].values == [6.0 + 150.0, 4.0 + 100.0, 2.0 + 50.0]
    # Dense vectors over the range would be 50 x 100,800 x 16 bytes = 80 MB.
    assert peak < 16 << 20, peak
    with pytest.raises(InvalidCombination):
        svc.get_metric_data(queries[:1], start - dt.timedelta(minutes=1), end)


def test_fill_spreads_over_the_range_and_search_is_bounded(cw):
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": "Cpu", "Value": 5.0, "Timestamp": now}])
    r = cw.get_metric_data(
        MetricDataQueries=[{**_stat("m1", 60), "ReturnData": False}, {"Id": "f", "Expression": "FILL(m1, 0)"}],
        StartTime=now - dt.timedelta(minutes=4), EndTime=now + dt.timedelta(minutes=1),
        ScanBy="TimestampAscending",
    )
    assert r["MetricDataResults"][0]["Values"] == [0.0, 0.0, 0.0, 0.0, 5.0]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_data(
            MetricDataQueries=[{"Id": "s", "Expression": "SEARCH('{UTM/Application} Cpu', 'Sum', 1)"}],
            StartTime=now - dt.timedelta(days=10), EndTime=now,
        )
    code, message, status = _err(e)
    assert (code, status) == ("ValidationError", 400) and "more than the limit of 100800" in message


def test_get_metric_statistics_keeps_its_1440_limit(cw):
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_statistics(Namespace=NS, MetricName="Cpu", StartTime=now - dt.timedelta(days=2), EndTime=now,
                                 Period=60, Statistics=["Sum"])
    code, message, status = _err(e)
    assert (code, status) == ("InvalidParameterCombination", 400)
    assert "You have requested up to 2880 datapoints, which exceeds the limit of 1440." in message
    # The whole range a timestamp can hold, at a period that keeps the count small, reads nothing.
    r = cw.get_metric_statistics(Namespace=NS, MetricName="Cpu", StartTime=dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
                                 EndTime=dt.datetime(9999, 1, 1, tzinfo=dt.UTC), Period=60 * 10**8,
                                 Statistics=["Sum"])
    assert r["Datapoints"] == []


def test_ranges_at_the_edges_of_time_read_nothing(runtime):
    """Rounding starts down to the period is integer arithmetic: year 1 and year 9999 are fine."""
    svc = runtime.service(MetricsService)
    lo, hi = dt.datetime(1, 1, 1, 0, 0, 30, tzinfo=dt.UTC), dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
    _, points = svc.get_metric_statistics(MetricId(NS, "Cpu"), lo, hi, 60 * 10**9, ["Sum"])
    assert points == []
    q = MetricDataQuery("m", MetricStatSpec(MetricId(NS, "Cpu"), 60 * 10**9, "Sum"))
    assert svc.get_metric_data([q], lo, hi).results[0].values == []


@pytest.mark.parametrize("ts", [1e20, -1e12, 2.0**63, float("nan"), float("inf")])
def test_timestamps_out_of_range_are_400_on_every_protocol(live, ts):
    put = {"Namespace": NS, "MetricData": [{"MetricName": "m", "Value": 1.0, "Timestamp": ts}]}
    stats = {"Namespace": NS, "MetricName": "m", "StartTime": 0, "EndTime": ts, "Period": 60, "Statistics": ["Sum"]}
    gmd = {"MetricDataQueries": [_stat("m1", 60)], "StartTime": ts, "EndTime": 4e9}
    for op, body in (("PutMetricData", put), ("GetMetricStatistics", stats), ("GetMetricData", gmd)):
        # CBOR: tag 1 (epoch seconds) as the SDKs send it.
        enc = json.loads(json.dumps(body), parse_constant=float)
        for d in [enc, *enc.get("MetricData", [])]:
            for k in ("Timestamp", "StartTime", "EndTime"):
                if k in d:
                    d[k] = cbor2.CBORTag(1, d[k])
        r = httpx.post(live.url + CBOR_PATH + op, content=cbor2.dumps(enc),
                       headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"})
        assert r.status_code == 400, (op, r.content)
        assert cbor2.loads(r.content)["__type"] == "SerializationException"
        if math.isfinite(ts):  # JSON has no NaN or Infinity: those fail as JSON
            r = httpx.post(live.url + "/", content=json.dumps(body),
                           headers={"X-Amz-Target": TARGET + op, "Content-Type": "application/x-amz-json-1.0"})
            assert r.status_code == 400 and r.json()["__type"] == "SerializationException", (op, r.text)
    form = {"Action": "PutMetricData", "Version": "2010-08-01", "Namespace": NS,
            "MetricData.member.1.MetricName": "m", "MetricData.member.1.Value": "1",
            "MetricData.member.1.Timestamp": repr(ts)}
    r = httpx.post(live.url + "/", data=form)
    assert r.status_code == 400 and "<Code>InvalidParameterValue</Code>" in r.text, r.text


def test_deeply_nested_math_is_a_400_through_the_door(cw):
    now = dt.datetime.now(dt.UTC)
    for depth, needle in ((5000, "at most 10000 characters"), (4999, "nesting is deeper")):
        expression = "(" * depth + "m1" + ")" * depth
        with pytest.raises(botocore.exceptions.ClientError) as e:
            cw.get_metric_data(
                MetricDataQueries=[{**_stat("m1", 60), "ReturnData": False}, {"Id": "e", "Expression": expression}],
                StartTime=now - dt.timedelta(hours=1), EndTime=now,
            )
        code, message, status = _err(e)
        assert (code, status) == ("ValidationError", 400) and needle in message


def test_a_forged_next_token_is_a_400(cw):
    import base64

    now = dt.datetime.now(dt.UTC)
    for forged in ({"r": -1, "p": 0}, {"r": 0, "p": -5}, {"r": "x"}):
        token = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
        with pytest.raises(botocore.exceptions.ClientError) as e:
            cw.get_metric_data(MetricDataQueries=[_stat("m1", 60)], StartTime=now - dt.timedelta(hours=1),
                               EndTime=now, NextToken=token)
        assert _err(e)[:1] == ("InvalidNextToken",)

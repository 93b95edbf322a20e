"""Every character AWS accepts in a namespace, metric or dimension round-trips.

Names are written over the three CloudWatch protocols (CBOR, JSON 1.0, query) and read
back through ListMetrics, GetMetricStatistics, GetMetricData and an alarm on the series.
The values travel as ClickHouse query parameters; nothing is escaped by hand.
"""

from __future__ import annotations

import datetime as dt
import time

import httpx
import pytest

from rexwatch.services.alarms import AlarmDefinition, AlarmsService
from rexwatch.services.alarms.model import Dimension
from rexwatch.services.metrics import MetricDatum, MetricsService
from rexwatch.workers.alarms import AlarmsWorker

# One name per awkward byte: quote, backslash, tab, newline, double quote, unicode, the old
# ``{db}`` placeholder, the field separator the store uses inside keys, and escape-looking text.
AWKWARD = [
    "Sec/q'uote",
    "back\\slash\\",
    "tab\there",
    "new\nline",
    'double"quote',
    "unicodé ✓ 😀",
    "{db}.x",
    "sep\x1fkey",
    "looks\\nescaped\\t",
    "'",
]


@pytest.fixture(params=["smithy-rpc-v2-cbor", "json", "query"])
def cw(request, live, monkeypatch):
    """A boto3 CloudWatch client speaking one protocol."""
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


def _name_ok(protocol: str, name: str) -> bool:
    # XML 1.0 cannot carry U+001F at all, so the query protocol never sees it.
    return not (protocol == "query" and "\x1f" in name)


def test_awkward_names_round_trip_through_every_read(cw):
    protocol = cw.meta.service_model.resolved_protocol
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    t0 = now - dt.timedelta(minutes=5)
    names = [n for n in AWKWARD if _name_ok(protocol, n)]
    for i, name in enumerate(names):
        cw.put_metric_data(
            Namespace=name,
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": name, "Value": name}],
                    "Timestamp": t0,
                    "Value": float(i + 1),
                }
            ],
        )
    queries = []
    for i, name in enumerate(names):
        dims = [{"Name": name, "Value": name}]
        listed = cw.list_metrics(Namespace=name, MetricName=name, Dimensions=dims)["Metrics"]
        assert listed == [{"Namespace": name, "MetricName": name, "Dimensions": dims}], name
        r = cw.get_metric_statistics(
            Namespace=name, MetricName=name, Dimensions=dims, StartTime=t0 - dt.timedelta(minutes=1),
            EndTime=now + dt.timedelta(minutes=1), Period=60, Statistics=["Sum"],
        )
        assert [p["Sum"] for p in r["Datapoints"]] == [float(i + 1)], name
        queries.append(
            {
                "Id": f"m{i}",
                "MetricStat": {
                    "Metric": {"Namespace": name, "MetricName": name, "Dimensions": dims},
                    "Period": 60,
                    "Stat": "Sum",
                },
                "Label": name,
            }
        )
    # All of them in one batched statistics query.
    r = cw.get_metric_data(
        MetricDataQueries=queries, StartTime=t0 - dt.timedelta(minutes=1), EndTime=now + dt.timedelta(minutes=1)
    )
    got = {x["Id"]: (x["Label"], x["Values"]) for x in r["MetricDataResults"]}
    assert got == {f"m{i}": (name, [float(i + 1)]) for i, name in enumerate(names)}


def test_listing_filters_by_an_awkward_dimension_value(cw):
    now = dt.datetime.now(dt.UTC)
    ns = "Sec/q'uote"
    for v in ("a'b", "a\\b", "a\tb", "plain"):
        cw.put_metric_data(
            Namespace=ns, MetricData=[{"MetricName": "M", "Dimensions": [{"Name": "K", "Value": v}],
                                       "Timestamp": now, "Value": 1.0}]
        )
    for v in ("a'b", "a\\b", "a\tb"):
        listed = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "K", "Value": v}])["Metrics"]
        assert [m["Dimensions"] for m in listed] == [[{"Name": "K", "Value": v}]]
    # Paging resumes after an awkward key (the token carries it).
    first = cw.list_metrics(Namespace=ns)
    assert len(first["Metrics"]) == 4


def test_query_protocol_put_keeps_awkward_bytes(live):
    name = "q'ns\\\t\"é"
    r = httpx.post(
        live.url + "/",
        data={
            "Action": "PutMetricData",
            "Version": "2010-08-01",
            "Namespace": name,
            "MetricData.member.1.MetricName": name,
            "MetricData.member.1.Value": "3",
            "MetricData.member.1.Dimensions.member.1.Name": name,
            "MetricData.member.1.Dimensions.member.1.Value": name,
        },
    )
    assert r.status_code == 200, r.text
    infos, _ = live.runtime.service(MetricsService).list_metrics(namespace=name)
    assert [(m.namespace, m.metric_name, m.dimensions) for m in infos] == [(name, name, ((name, name),))]


def test_alarm_on_an_awkward_metric_evaluates_beside_healthy_ones(runtime):
    alarms = runtime.service(AlarmsService)
    metrics = runtime.service(MetricsService)
    minute = int(time.time() // 60) * 60
    ts = dt.datetime.fromtimestamp(minute - 59, dt.UTC)
    for name in AWKWARD:
        metrics.put_metric_data(name, [MetricDatum(name, [(name, name)], ts, 95.0)])
    metrics.put_metric_data("UTM/Application", [MetricDatum("Cpu", [], ts, 95.0)])

    def definition(alarm_name: str, ns: str, metric: str, dims=()) -> AlarmDefinition:
        return AlarmDefinition(
            name=alarm_name, namespace=ns, metric_name=metric, dimensions=dims, statistic="Maximum", period=60,
            evaluation_periods=1, threshold=80, comparison_operator="GreaterThanThreshold",
        )

    alarms.put_metric_alarm(definition("healthy", "UTM/Application", "Cpu"))
    for i, name in enumerate(AWKWARD):
        alarms.put_metric_alarm(definition(f"awkward-{i}", name, name, (Dimension(name, name),)))
    worker = AlarmsWorker(runtime)
    worker.tick(minute + 5.0)
    report = worker.last_report
    assert report.failed == {}
    assert alarms.get("healthy").state_value == "ALARM"
    assert [alarms.get(f"awkward-{i}").state_value for i in range(len(AWKWARD))] == ["ALARM"] * len(AWKWARD)


def test_names_that_differ_only_around_a_separator_stay_apart(runtime):
    """Series keys are matched as (namespace, metric, dimensions), never as joined text."""
    from rexwatch.services.metrics import StatQuery

    metrics = runtime.service(MetricsService)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    metrics.put_metric_data("a\x1fb", [MetricDatum("c", [], now, 1.0)])
    metrics.put_metric_data("a", [MetricDatum("b\x1fc", [], now, 2.0)])
    got = metrics.get_statistics_batch(
        [StatQuery("x", "a\x1fb", "c", statistic="Sum"), StatQuery("y", "a", "b\x1fc", statistic="Sum")],
        now - dt.timedelta(minutes=2), now + dt.timedelta(minutes=2),
    )
    assert [v for _, v in got["x"]] == [1.0] and [v for _, v in got["y"]] == [2.0]

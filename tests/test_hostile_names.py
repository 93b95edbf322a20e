"""Names with awkward bytes round-trip: what is created under a name is found again under it.

Log groups and streams, alarms, topics and metrics named with quotes, backslash, tab, unicode:
create, list or describe, put data, read it back equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from rexwatch.testing import LiveServer, make_runtime

# Each within the characters AWS accepts for the resource (log group names allow only [.-_/#A-Za-z0-9]).
AWKWARD = ["q'uote", 'd"quote', "back\\slash", "tab\there", "é漢😀", "sp ace", "{db}", "%s", "semi;colon"]
GROUP_SAFE = ["/a/b.c-d_e#f", "x" * 512, "#", "/.../"]


@pytest.fixture(scope="module")
def names_server(tmp_path_factory: pytest.TempPathFactory, chdb_engine) -> Iterator[LiveServer]:
    rt = make_runtime(tmp_path_factory.mktemp("hostile-names") / "data", chdb_engine, workers="none")
    with LiveServer(rt, run_workers=False) as srv:
        yield srv
    rt.close(close_stores=False)
    rt.telemetry.drop_database()
    rt.control.dispose()


@pytest.fixture(scope="module")
def aws(names_server: LiveServer) -> dict[str, Any]:
    return {s: names_server.boto3_client(s) for s in ("logs", "cloudwatch", "sns")}


@pytest.mark.parametrize(("group", "stream"), list(zip(GROUP_SAFE * 3, AWKWARD, strict=False)))
def test_log_group_and_stream_names_round_trip(aws, group, stream):
    logs = aws["logs"]
    group = f"{group[:500]}{AWKWARD.index(stream)}"  # unique per case, within the 512-character limit
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
            if g["logGroupName"] == group] == [group]
    assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]] == [stream]
    ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    message = f"message with {stream}"
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": ms, "message": message}])
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    assert [e["message"] for e in got] == [message]
    found = logs.filter_log_events(logGroupName=group, logStreamNames=[stream])["events"]
    assert [(e["logStreamName"], e["message"]) for e in found] == [(stream, message)]


@pytest.mark.parametrize("name", AWKWARD)
def test_alarm_names_round_trip(aws, name):
    cw = aws["cloudwatch"]
    cw.put_metric_alarm(AlarmName=name, Namespace="Names", MetricName="Plain", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
    alarms = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert [a["AlarmName"] for a in alarms] == [name]
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=f"because {name}")
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"] == "ALARM"
    history = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    assert history and {h["AlarmName"] for h in history} == {name}


@pytest.mark.parametrize("name", ["under_score-dash", "x" * 256, "A1"])
def test_topic_names_round_trip(aws, name):
    # SNS topic names allow only [A-Za-z0-9_-]{1,256}; anything else is refused (checked below).
    sns = aws["sns"]
    arn = sns.create_topic(Name=name)["TopicArn"]
    assert arn.endswith(f":{name}")
    assert arn in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["TopicArn"] == arn
    sns.publish(TopicArn=arn, Message=f"hello {name}")


@pytest.mark.parametrize("name", AWKWARD)
def test_awkward_topic_names_are_refused_with_a_message(aws, name):
    import botocore.exceptions

    with pytest.raises(botocore.exceptions.ClientError) as e:
        aws["sns"].create_topic(Name=name)
    assert e.value.response["Error"]["Code"] == "InvalidParameter"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def _metric_round_trip(cw: Any, namespace: str, metric: str, dim_value: str) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    dims = [{"Name": "Dim", "Value": dim_value}]
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": metric, "Dimensions": dims, "Value": 4.0, "Timestamp": now - dt.timedelta(minutes=1)}])
    listed = cw.list_metrics(Namespace=namespace)["Metrics"]
    assert [(m["MetricName"], m["Dimensions"]) for m in listed] == [(metric, dims)]
    stats = cw.get_metric_statistics(Namespace=namespace, MetricName=metric, Dimensions=dims,
                                     StartTime=now - dt.timedelta(minutes=10), EndTime=now + dt.timedelta(minutes=1),
                                     Period=60, Statistics=["Sum"])["Datapoints"]
    assert [d["Sum"] for d in stats] == [4.0]


@pytest.mark.parametrize("name", AWKWARD)
def test_metric_names_round_trip(aws, name):
    _metric_round_trip(aws["cloudwatch"], f"Names/{name}", f"m {name}", f"v {name}")

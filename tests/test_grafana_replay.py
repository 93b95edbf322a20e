"""Grafana's CloudWatch data source, replayed: the requests it sends to a custom endpoint, in its order,
taken from its source and documentation (Grafana cannot run here). The query editor's lookups,
time-series queries with a SEARCH expression (as its builder writes them) and a math expression, a
Logs Insights query with polling, alarm annotations, and the neighbouring EC2, tagging and OAM calls."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from botocore.exceptions import ClientError

from rexwatch.services.metrics import MetricsService
from rexwatch.testing import wait_until

NS = "UTM/Application"


@pytest.fixture
def seeded(live):
    cw, logs = live.boto3_client("cloudwatch"), live.boto3_client("logs")
    now = dt.datetime.now(dt.UTC)
    cw.put_metric_data(Namespace=NS, MetricData=[
        {"MetricName": "APILatency", "Dimensions": [{"Name": "Service", "Value": svc}],
         "Timestamp": now - dt.timedelta(minutes=5 * k), "Value": base + k}
        for k in range(1, 13) for svc, base in (("utm-api", 200.0), ("utm-worker", 50.0))])
    live.runtime.service(MetricsService).flush()
    logs.create_log_group(logGroupName="/aws/ecs/utm-api")
    logs.create_log_stream(logGroupName="/aws/ecs/utm-api", logStreamName="web-1")
    t0 = int(time.time() * 1000) - 600_000
    logs.put_log_events(logGroupName="/aws/ecs/utm-api", logStreamName="web-1", logEvents=[
        {"timestamp": t0 + i * 1000, "message": json.dumps({"level": "ERROR" if i % 4 == 0 else "INFO", "path": "/api"})}
        for i in range(20)])
    cw.put_metric_alarm(AlarmName="utm-api-latency", Namespace=NS, MetricName="APILatency",
                        Dimensions=[{"Name": "Service", "Value": "utm-api"}], Statistic="Average", Period=300,
                        EvaluationPeriods=1, Threshold=100, ComparisonOperator="GreaterThanThreshold")
    cw.set_alarm_state(AlarmName="utm-api-latency", StateValue="ALARM", StateReason="latency above 100")
    return live


def test_query_editor_lookups(seeded) -> None:
    live = seeded
    ec2, cw = live.boto3_client("ec2"), live.boto3_client("cloudwatch")
    # Regions for the region picker.
    regions = [r["RegionName"] for r in ec2.describe_regions()["Regions"]]
    assert regions == [live.runtime.settings.region]
    # Accounts (cross-account observability): no sinks, so no links to list.
    oam = live.boto3_client("oam")
    assert oam.list_sinks(MaxResults=100)["Items"] == []
    assert oam.list_attached_links(SinkIdentifier="arn:aws:oam:us-east-1:000000000000:sink/x")["Items"] == []
    # Metric names of a custom namespace, then dimension keys, then dimension values.
    names = {m["MetricName"] for m in cw.list_metrics(Namespace=NS)["Metrics"]}
    assert names == {"APILatency"}
    keys = {d["Name"] for m in cw.list_metrics(Namespace=NS, MetricName="APILatency")["Metrics"]
            for d in m["Dimensions"]}
    assert keys == {"Service"}
    values = {d["Value"] for m in cw.list_metrics(Namespace=NS, MetricName="APILatency",
                                                  Dimensions=[{"Name": "Service"}])["Metrics"]
              for d in m["Dimensions"]}
    assert values == {"utm-api", "utm-worker"}
    # Dimension values by EC2 instance attribute and by resource tags: nothing to list, no error.
    assert ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])[
        "Reservations"] == []
    assert ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["instance"]}])["Tags"] == []
    tagging = live.boto3_client("resourcegroupstaggingapi")
    assert tagging.get_resources(ResourceTypeFilters=["ec2:instance"],
                                 TagFilters=[{"Key": "Environment", "Values": ["prod"]}])[
        "ResourceTagMappingList"] == []


def test_time_series_with_search_and_math(seeded) -> None:
    cw = seeded.boto3_client("cloudwatch")
    end = dt.datetime.now(dt.UTC)
    start = end - dt.timedelta(hours=3)
    # The builder's expressions when "match exact" is off and on (quoted names, REMOVE_EMPTY around).
    loose = (f"REMOVE_EMPTY(SEARCH('Namespace=\"{NS}\" MetricName=\"APILatency\" \"Service\"=\"utm-api\"', "
             "'Average', 300))")
    exact = f"REMOVE_EMPTY(SEARCH('{{\"{NS}\",\"Service\"}} MetricName=\"APILatency\"', 'Average', 300))"
    out = cw.get_metric_data(StartTime=start, EndTime=end, ScanBy="TimestampAscending", MetricDataQueries=[
        {"Id": "query0", "Expression": loose, "Label": "${PROP('Dim.Service')}", "ReturnData": True},
        {"Id": "query1", "Expression": exact, "ReturnData": True},
    ])["MetricDataResults"]
    by_id: dict[str, list] = {}
    for r in out:
        by_id.setdefault(r["Id"], []).append(r)
    assert [r["Label"] for r in by_id["query0"]] == ["utm-api"] and len(by_id["query0"][0]["Values"]) >= 10
    assert sorted(r["Label"] for r in by_id["query1"]) == ["utm-api", "utm-worker"]
    # A math expression over a metric query (the "code" editor), the metric itself hidden.
    metric = {"Namespace": NS, "MetricName": "APILatency", "Dimensions": [{"Name": "Service", "Value": "utm-api"}]}
    out = cw.get_metric_data(StartTime=start, EndTime=end, ScanBy="TimestampAscending", MetricDataQueries=[
        {"Id": "m1", "MetricStat": {"Metric": metric, "Period": 300, "Stat": "Average"}, "ReturnData": False},
        {"Id": "e1", "Expression": "m1 / 1000", "Label": "seconds", "ReturnData": True},
    ])["MetricDataResults"]
    assert [r["Id"] for r in out] == ["e1"] and all(0.2 <= v <= 0.22 for v in out[0]["Values"])


def test_logs_insights_query_with_polling(seeded) -> None:
    logs = seeded.boto3_client("logs")
    groups = logs.describe_log_groups(logGroupNamePattern="utm", limit=50)["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/aws/ecs/utm-api"]
    fields = {f["name"] for f in logs.get_log_group_fields(logGroupName="/aws/ecs/utm-api")["logGroupFields"]}
    assert {"@timestamp", "@message", "level"} <= fields
    now = int(time.time())
    qid = logs.start_query(logGroupNames=["/aws/ecs/utm-api"], startTime=now - 3600, endTime=now,
                           queryString="fields @timestamp, @message, @log, @logStream\n| filter level = 'ERROR'"
                                       "\n| stats count(*) as errors by bin(5m)")["queryId"]
    res = {}

    def done() -> bool:
        res.update(logs.get_query_results(queryId=qid))
        return res["status"] in ("Complete", "Failed", "Cancelled", "Timeout")

    wait_until(done, deadline=60)
    assert res["status"] == "Complete"
    assert sum(int(f["value"]) for row in res["results"] for f in row if f["field"] == "errors") == 5
    # A second query cancelled by the user: StopQuery answers.
    qid2 = logs.start_query(logGroupNames=["/aws/ecs/utm-api"], startTime=now - 3600, endTime=now,
                            queryString="fields @message | limit 5")["queryId"]
    try:
        logs.stop_query(queryId=qid2)
    except ClientError as e:  # the query may have finished already, as on AWS
        assert e.response["Error"]["Code"] == "InvalidParameterException"
    # The log context of a row: its stream's events.
    events = logs.get_log_events(logGroupName="/aws/ecs/utm-api", logStreamName="web-1", limit=10,
                                 startFromHead=True)["events"]
    assert len(events) == 10


def test_alarm_annotations(seeded) -> None:
    cw = seeded.boto3_client("cloudwatch")
    alarms = cw.describe_alarms_for_metric(Namespace=NS, MetricName="APILatency", Statistic="Average", Period=300,
                                           Dimensions=[{"Name": "Service", "Value": "utm-api"}])["MetricAlarms"]
    assert [a["AlarmName"] for a in alarms] == ["utm-api-latency"]
    assert cw.describe_alarms(AlarmNamePrefix="utm-", StateValue="ALARM")["MetricAlarms"][0]["StateValue"] == "ALARM"
    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    history = cw.describe_alarm_history(AlarmName="utm-api-latency", HistoryItemType="StateUpdate",
                                        StartDate=end - dt.timedelta(hours=3), EndDate=end)["AlarmHistoryItems"]
    assert any("ALARM" in h["HistorySummary"] for h in history)


def test_insight_rule_report_of_an_unknown_rule(seeded) -> None:
    cw = seeded.boto3_client("cloudwatch")
    end = dt.datetime.now(dt.UTC)
    with pytest.raises(ClientError) as e:
        cw.get_insight_rule_report(RuleName="utm-top-talkers", StartTime=end - dt.timedelta(hours=1), EndTime=end,
                                   Period=300)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "utm-top-talkers" in e.value.response["Error"]["Message"]


def test_neighbour_errors_are_aws_shaped(seeded) -> None:
    with pytest.raises(ClientError) as e:
        seeded.boto3_client("ec2").describe_regions(RegionNames=["eu-west-1"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue" and "eu-west-1" in str(e.value)
    with pytest.raises(ClientError) as e:
        seeded.boto3_client("ec2").describe_vpcs()
    assert e.value.response["Error"]["Code"] == "InvalidAction"


def test_neighbours_with_auth_on_take_signed_requests(runtime, live) -> None:
    runtime.settings.auth = "on"
    key = runtime.keys.create("grafana", aws=True)
    creds = {"aws_access_key_id": key.access_key_id, "aws_secret_access_key": key.secret_access_key}
    assert live.boto3_client("oam", **creds).list_sinks()["Items"] == []
    assert live.boto3_client("ec2", **creds).describe_regions()["Regions"]
    assert live.boto3_client("resourcegroupstaggingapi", **creds).get_resources()["ResourceTagMappingList"] == []
    with pytest.raises(ClientError):
        live.boto3_client("oam", aws_access_key_id=key.access_key_id, aws_secret_access_key="wrong").list_sinks()

"""CloudWatch alarm operations through the AWS door: boto3 (CBOR), JSON 1.0 and the CLI."""

from __future__ import annotations

import json
import os

import botocore.exceptions
import httpx
import pytest

from helpers import run_cli

TOPIC = "arn:aws:sns:us-east-1:ACCOUNT:utm-alerts"

# The runbook's four put-metric-alarm commands, as written (ARN placeholder filled in).
RUNBOOK_ALARMS = [
    """--alarm-name utm-high-error-rate --alarm-description "API error rate above 5%" --metric-name 5XXError
    --namespace AWS/ApplicationELB --statistic Sum --period 300 --threshold 50
    --comparison-operator GreaterThanThreshold --evaluation-periods 2 --alarm-actions <sns-topic-arn>""",
    """--alarm-name utm-db-connections-high --metric-name DatabaseConnections --namespace AWS/RDS
    --dimensions Name=DBInstanceIdentifier,Value=utm-db --statistic Average --period 300 --threshold 80
    --comparison-operator GreaterThanThreshold --evaluation-periods 2 --alarm-actions <sns-topic-arn>""",
    """--alarm-name utm-high-cpu --metric-name CPUUtilization --namespace AWS/ECS
    --dimensions Name=ServiceName,Value=utm-api --statistic Average --period 300 --threshold 80
    --comparison-operator GreaterThanThreshold --evaluation-periods 3 --alarm-actions <sns-topic-arn>""",
    """--alarm-name utm-unhealthy-targets --metric-name UnhealthyHostCount --namespace AWS/ApplicationELB
    --dimensions Name=TargetGroup,Value=<target-group-arn> --statistic Average --period 60 --threshold 1
    --comparison-operator GreaterThanOrEqualToThreshold --evaluation-periods 2 --alarm-actions <sns-topic-arn>""",
]


def _argv(text: str) -> list[str]:
    import shlex

    text = text.replace("<sns-topic-arn>", TOPIC).replace(
        "<target-group-arn>",
        "arn:aws:elasticloadbalancing:us-east-1:ACCOUNT:targetgroup/utm-api/0123456789abcdef",
    )
    return shlex.split(text)


def _code(e: botocore.exceptions.ClientError) -> str:
    return e.response["Error"]["Code"]


def test_runbook_alarms_with_boto3(live):
    cw = live.boto3_client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="utm-high-cpu",
        MetricName="CPUUtilization",
        Namespace="AWS/ECS",
        Dimensions=[{"Name": "ServiceName", "Value": "utm-api"}],
        Statistic="Average",
        Period=300,
        Threshold=80,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=3,
        AlarmActions=[TOPIC],
        AlarmDescription="CPU",
    )
    cw.put_metric_alarm(
        AlarmName="utm-unhealthy-targets",
        MetricName="UnhealthyHostCount",
        Namespace="AWS/ApplicationELB",
        Statistic="Average",
        Period=60,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        EvaluationPeriods=2,
        DatapointsToAlarm=1,
        TreatMissingData="notBreaching",
    )
    got = cw.describe_alarms(AlarmNamePrefix="utm-")["MetricAlarms"]
    assert [a["AlarmName"] for a in got] == ["utm-high-cpu", "utm-unhealthy-targets"]
    cpu = got[0]
    assert cpu["StateValue"] == "INSUFFICIENT_DATA" and cpu["Threshold"] == 80.0
    assert cpu["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:000000000000:alarm:utm-high-cpu"
    assert cpu["Dimensions"] == [{"Name": "ServiceName", "Value": "utm-api"}]
    assert cpu["StateUpdatedTimestamp"].tzinfo is not None
    assert got[1]["TreatMissingData"] == "notBreaching" and got[1]["DatapointsToAlarm"] == 1

    cw.set_alarm_state(
        AlarmName="utm-high-cpu",
        StateValue="ALARM",
        StateReason="Testing the alert path",
        StateReasonData=json.dumps({"test": True}),
    )
    assert (
        cw.describe_alarms(StateValue="ALARM")["MetricAlarms"][0]["StateReason"] == "Testing the alert path"
    )
    hist = cw.describe_alarm_history(AlarmName="utm-high-cpu", HistoryItemType="StateUpdate")[
        "AlarmHistoryItems"
    ]
    assert hist[0]["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    assert json.loads(hist[0]["HistoryData"])["newState"]["stateReasonData"] == {"test": True}

    for_metric = cw.describe_alarms_for_metric(
        MetricName="CPUUtilization",
        Namespace="AWS/ECS",
        Dimensions=[{"Name": "ServiceName", "Value": "utm-api"}],
    )
    assert [a["AlarmName"] for a in for_metric["MetricAlarms"]] == ["utm-high-cpu"]

    cw.disable_alarm_actions(AlarmNames=["utm-high-cpu"])
    assert cw.describe_alarms(AlarmNames=["utm-high-cpu"])["MetricAlarms"][0]["ActionsEnabled"] is False
    cw.enable_alarm_actions(AlarmNames=["utm-high-cpu"])

    cw.put_composite_alarm(
        AlarmName="utm-critical", AlarmRule="ALARM(utm-high-cpu) AND NOT ALARM(utm-unhealthy-targets)"
    )
    comp = cw.describe_alarms(AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]
    assert comp[0]["AlarmName"] == "utm-critical" and comp[0]["StateValue"] == "ALARM"
    paged = cw.get_paginator("describe_alarms").paginate(
        AlarmTypes=["MetricAlarm", "CompositeAlarm"], PaginationConfig={"PageSize": 1}
    )
    names = [a["AlarmName"] for page in paged for a in page["MetricAlarms"] + page.get("CompositeAlarms", [])]
    assert sorted(names) == ["utm-critical", "utm-high-cpu", "utm-unhealthy-targets"]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_composite_alarm(AlarmName="bad", AlarmRule="ALARM(utm-high-cpu) AND (")
    assert _code(e.value) == "InvalidParameterValue" and "column" in e.value.response["Error"]["Message"]

    cw.delete_alarms(AlarmNames=["utm-critical"])
    cw.delete_alarms(AlarmNames=["utm-unhealthy-targets"])
    assert [a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]] == ["utm-high-cpu"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.delete_alarms(AlarmNames=["utm-unhealthy-targets"])
    assert _code(e.value) == "ResourceNotFound"


def test_bad_alarm_is_an_aws_error_not_a_500(live):
    cw = live.boto3_client("cloudwatch")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_alarm(
            AlarmName="x",
            MetricName="m",
            Namespace="n",
            Statistic="Average",
            Period=45,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
            EvaluationPeriods=1,
        )
    assert _code(e.value) == "InvalidParameterValue"
    assert "Period" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.set_alarm_state(AlarmName="nope", StateValue="ALARM", StateReason="x")
    assert _code(e.value) == "ResourceNotFound"


def test_mute_rules_over_boto3(live):
    cw = live.boto3_client("cloudwatch")
    cw.put_alarm_mute_rule(
        Name="nightly-backup",
        Description="backups",
        Rule={"Schedule": {"Expression": "cron(0 23 * * *)", "Duration": "PT2H"}},
        MuteTargets={"AlarmNames": ["utm-db-connections-high"]},
    )
    got = cw.get_alarm_mute_rule(AlarmMuteRuleName="nightly-backup")
    assert got["MuteType"] == "RECURRING" and got["Rule"]["Schedule"]["Timezone"] == "UTC"
    assert got["Status"] in ("ACTIVE", "SCHEDULED")
    listed = cw.list_alarm_mute_rules(AlarmName="utm-db-connections-high")["AlarmMuteRuleSummaries"]
    assert [r["AlarmMuteRuleArn"].rsplit(":", 1)[1] for r in listed] == ["nightly-backup"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_alarm_mute_rule(
            Name="bad",
            Rule={"Schedule": {"Expression": "cron(0 23 * *)", "Duration": "PT2H"}},
            MuteTargets={"AlarmNames": ["a"]},
        )
    assert "5 fields" in e.value.response["Error"]["Message"]
    cw.delete_alarm_mute_rule(AlarmMuteRuleName="nightly-backup")
    assert cw.list_alarm_mute_rules()["AlarmMuteRuleSummaries"] == []


def test_cloudwatch_json_protocol(live):
    def call(op, body):
        return httpx.post(
            live.url + "/",
            content=json.dumps(body),
            headers={
                "X-Amz-Target": f"GraniteServiceVersion20100801.{op}",
                "Content-Type": "application/x-amz-json-1.0",
            },
        )

    r = call(
        "PutMetricAlarm",
        {
            "AlarmName": "j",
            "MetricName": "m",
            "Namespace": "n",
            "Statistic": "Sum",
            "Period": 60,
            "Threshold": 5,
            "ComparisonOperator": "LessThanThreshold",
            "EvaluationPeriods": 1,
        },
    )
    assert r.status_code == 200, r.text
    r = call("DescribeAlarms", {"AlarmNames": ["j"]})
    assert r.json()["MetricAlarms"][0]["ComparisonOperator"] == "LessThanThreshold"
    r = call("SetAlarmState", {"AlarmName": "j", "StateValue": "MAYBE", "StateReason": "x"})
    assert r.status_code == 400 and "StateValue" in r.json()["message"]


def test_runbook_put_metric_alarm_commands_run_with_the_cli(live):
    env = {**os.environ, "REXWATCH_ENDPOINT": live.url}
    for text in RUNBOOK_ALARMS:
        r = run_cli("cloudwatch", "put-metric-alarm", *_argv(text), env=env)
        assert r.returncode == 0, r.stderr
    r = run_cli("cloudwatch", "describe-alarms", "--output", "json", env=env)
    assert r.returncode == 0, r.stderr
    alarms = {a["AlarmName"]: a for a in json.loads(r.stdout)["MetricAlarms"]}
    assert sorted(alarms) == [
        "utm-db-connections-high",
        "utm-high-cpu",
        "utm-high-error-rate",
        "utm-unhealthy-targets",
    ]
    assert alarms["utm-high-error-rate"]["AlarmDescription"] == "API error rate above 5%"
    assert alarms["utm-unhealthy-targets"]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarms["utm-high-cpu"]["AlarmActions"] == [TOPIC]
    r = run_cli(
        "cloudwatch",
        "set-alarm-state",
        "--alarm-name",
        "utm-high-cpu",
        "--state-value",
        "ALARM",
        "--state-reason",
        "test alerts",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    r = run_cli(
        "cloudwatch", "describe-alarm-history", "--alarm-name", "utm-high-cpu", "--output", "json", env=env
    )
    summaries = [i["HistorySummary"] for i in json.loads(r.stdout)["AlarmHistoryItems"]]
    assert "Alarm updated from INSUFFICIENT_DATA to ALARM" in summaries


def test_cloudwatch_query_protocol(live):
    """Older SDKs speak CloudWatch's query protocol (form in, XML out)."""
    form = {
        "Action": "PutMetricAlarm",
        "Version": "2010-08-01",
        "AlarmName": "q",
        "MetricName": "m",
        "Namespace": "n",
        "Statistic": "Sum",
        "Period": "60",
        "Threshold": "5",
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": "1",
        "Dimensions.member.1.Name": "Host",
        "Dimensions.member.1.Value": "a",
        "AlarmActions.member.1": TOPIC,
    }
    r = httpx.post(live.url + "/", data=form)
    assert r.status_code == 200, r.text
    r = httpx.post(
        live.url + "/", data={"Action": "DescribeAlarms", "Version": "2010-08-01", "AlarmNames.member.1": "q"}
    )
    assert r.status_code == 200, r.text
    assert "<AlarmName>q</AlarmName>" in r.text and "<StateValue>INSUFFICIENT_DATA</StateValue>" in r.text
    assert "<Name>Host</Name>" in r.text


def test_alarm_tags(live):
    cw = live.boto3_client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="t",
        MetricName="m",
        Namespace="n",
        Statistic="Sum",
        Period=60,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=1,
        Tags=[{"Key": "team", "Value": "api"}],
    )
    arn = cw.describe_alarms(AlarmNames=["t"])["MetricAlarms"][0]["AlarmArn"]
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "core"}])
    tags = {t["Key"]: t["Value"] for t in cw.list_tags_for_resource(ResourceARN=arn)["Tags"]}
    assert tags == {"team": "core", "env": "prod"}
    cw.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.list_tags_for_resource(ResourceARN=arn + "-nope")
    assert _code(e.value) == "ResourceNotFound"


def test_history_of_composites_needs_alarm_types(live):
    cw = live.boto3_client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="child",
        MetricName="m",
        Namespace="n",
        Statistic="Sum",
        Period=60,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=1,
    )
    cw.put_composite_alarm(AlarmName="parent", AlarmRule="ALARM(child)")
    assert cw.describe_alarm_history(AlarmName="parent")["AlarmHistoryItems"] == []
    items = cw.describe_alarm_history(AlarmName="parent", AlarmTypes=["CompositeAlarm"])["AlarmHistoryItems"]
    assert {i["HistoryItemType"] for i in items} == {"ConfigurationUpdate", "StateUpdate"}
    assert all(i["AlarmType"] == "CompositeAlarm" for i in items)


def test_describe_alarms_always_has_both_lists_and_the_boto3_waiters_work(live):
    cw = live.boto3_client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="child",
        MetricName="CPUUtilization",
        Namespace="UTM/Application",
        Statistic="Average",
        Period=60,
        Threshold=80,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=1,
    )
    cw.put_composite_alarm(AlarmName="parent", AlarmRule="ALARM(child)")
    plain = cw.describe_alarms()
    assert [a["AlarmName"] for a in plain["MetricAlarms"]] == ["child"] and plain["CompositeAlarms"] == []
    only = cw.describe_alarms(AlarmTypes=["CompositeAlarm"])
    assert only["MetricAlarms"] == [] and [a["AlarmName"] for a in only["CompositeAlarms"]] == ["parent"]
    fast = {"Delay": 1, "MaxAttempts": 2}
    cw.get_waiter("alarm_exists").wait(AlarmNames=["child"], WaiterConfig=fast)
    cw.get_waiter("composite_alarm_exists").wait(
        AlarmNames=["parent"], AlarmTypes=["CompositeAlarm"], WaiterConfig=fast
    )
    # A composite that does not exist: the waiter polls an empty list and gives up cleanly.
    with pytest.raises(botocore.exceptions.WaiterError, match="Max attempts exceeded"):
        cw.get_waiter("composite_alarm_exists").wait(
            AlarmNames=["nope"], AlarmTypes=["CompositeAlarm"], WaiterConfig=fast
        )

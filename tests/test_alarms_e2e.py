"""End to end: breaching datapoints -> alarms worker tick -> transition -> email, Slack and webhook, once each."""

from __future__ import annotations

import datetime as dt
import json
import time

import botocore.exceptions
import httpx
import pytest

from notify_helpers import Mailbox, Receiver, deliver_all
from rexwatch.services.alarms import AlarmsService
from rexwatch.services.notify import NotifyService
from rexwatch.workers.alarms import AlarmsWorker

TOPIC = "arn:aws:sns:us-east-1:ACCOUNT:utm-alerts"


@pytest.fixture
def receivers(runtime):
    box, slack, hook = Mailbox(), Receiver(), Receiver()
    runtime.settings.smtp_host, runtime.settings.smtp_port = "127.0.0.1", box.port
    yield box, slack, hook
    box.close()
    slack.close()
    hook.close()


def test_breach_to_email_slack_and_webhook_exactly_once(runtime, live, receivers):
    box, slack, hook = receivers
    sns = live.boto3_client("sns")
    cw = live.boto3_client("cloudwatch")
    arn = sns.create_topic(Name="utm-alerts")["TopicArn"]
    sns.subscribe(
        TopicArn=TOPIC,
        Protocol="email",
        Endpoint="ops@yourdomain.com",
        Attributes={"SkipConfirmation": "true"},
    )
    sns.subscribe(TopicArn=TOPIC, Protocol="http", Endpoint=hook.url, Attributes={"SkipConfirmation": "true"})
    runtime.service(NotifyService).subscribe(arn, "slack", slack.url)

    cw.put_metric_alarm(
        AlarmName="utm-unhealthy-targets",
        MetricName="UnhealthyHostCount",
        Namespace="UTM/Application",
        Dimensions=[{"Name": "TargetGroup", "Value": "utm-api"}],
        Statistic="Average",
        Period=60,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        EvaluationPeriods=2,
        AlarmActions=[TOPIC],
        OKActions=[TOPIC],
        AlarmDescription="Unhealthy targets behind the API",
    )
    now = time.time()
    minute = int(now // 60) * 60
    for start, value in ((minute - 120, 2.0), (minute - 60, 3.0)):
        cw.put_metric_data(
            Namespace="UTM/Application",
            MetricData=[
                {
                    "MetricName": "UnhealthyHostCount",
                    "Dimensions": [{"Name": "TargetGroup", "Value": "utm-api"}],
                    "Timestamp": dt.datetime.fromtimestamp(start + 5, dt.UTC),
                    "Value": value,
                    "Unit": "Count",
                }
            ],
        )

    worker = AlarmsWorker(runtime)
    worker.tick(now)
    assert worker.last_report.evaluated == 1 and worker.last_report.transitions == 1
    assert worker.last_report.queries == 1
    alarm = cw.describe_alarms(AlarmNames=["utm-unhealthy-targets"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith("Threshold Crossed: 2 out of the last 2 datapoints [3.0 (")
    assert json.loads(alarm["StateReasonData"])["recentDatapoints"] == [2.0, 3.0]

    deliver_all(runtime)
    [mail] = box.wait_for(1)
    assert mail["Subject"] == 'ALARM: "utm-unhealthy-targets" in US East (N. Virginia)'
    [note] = slack.wait_for(1)
    [post] = hook.wait_for(1)
    envelope = post.json
    assert envelope["Type"] == "Notification" and envelope["TopicArn"].endswith(":utm-alerts")
    msg = json.loads(envelope["Message"])
    assert msg["NewStateValue"] == "ALARM" and msg["OldStateValue"] == "INSUFFICIENT_DATA"
    assert msg["Trigger"]["MetricName"] == "UnhealthyHostCount" and msg["Trigger"]["Threshold"] == 1.0
    assert "utm-unhealthy-targets" in json.dumps(note.json)

    metrics = httpx.get(live.url + "/metrics", timeout=60).text
    assert 'rexwatch_alarms{state="ALARM"} 1.0' in metrics
    assert "rexwatch_alarm_transitions_total 1.0" in metrics

    # More ticks in the same state re-send nothing; a restarted worker does not repeat the transition.
    worker.tick(now + 61)
    AlarmsWorker(runtime).tick(now + 122)
    # deliver_all returns when nothing is due, and the receivers record a message before answering it:
    # anything re-sent would already be counted here.
    deliver_all(runtime)
    assert len(box.messages) == 1 and len(slack.requests) == 1 and len(hook.requests) == 1

    # "Test alerts": SetAlarmState drives the same path.
    cw.set_alarm_state(AlarmName="utm-unhealthy-targets", StateValue="OK", StateReason="Testing the OK path")
    deliver_all(runtime)
    assert json.loads(hook.wait_for(2)[1].json["Message"])["NewStateReason"] == "Testing the OK path"
    assert len(slack.wait_for(2)) == 2 and len(box.wait_for(2)) == 2

    hist = cw.describe_alarm_history(AlarmName="utm-unhealthy-targets")["AlarmHistoryItems"]
    kinds = [(h["HistoryItemType"], h["HistorySummary"]) for h in hist]
    assert ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM") in kinds
    assert ("StateUpdate", "Alarm updated from ALARM to OK") in kinds
    stored_topic = TOPIC.replace("ACCOUNT", "000000000000")  # the placeholder is resolved on input
    assert ("Action", f"Successfully executed action {stored_topic}") in kinds
    assert kinds[-1] == ("ConfigurationUpdate", 'Alarm "utm-unhealthy-targets" created')


def test_backtest_over_stored_metrics(runtime, live):
    cw = live.boto3_client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="utm-high-cpu",
        MetricName="CPUUtilization",
        Namespace="UTM/Application",
        Statistic="Average",
        Period=60,
        Threshold=80,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=2,
    )
    minute = int(time.time() // 60) * 60
    values = [50, 90, 95, 40, 30, 85, 99, 97]
    start = minute - 60 * len(values)
    cw.put_metric_data(
        Namespace="UTM/Application",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Timestamp": dt.datetime.fromtimestamp(start + 60 * i + 1, dt.UTC),
                "Value": v,
            }
            for i, v in enumerate(values)
        ],
    )
    out = runtime.service(AlarmsService).backtest("utm-high-cpu", start, minute)
    assert [(t.old, t.new) for t in out] == [
        ("INSUFFICIENT_DATA", "OK"),
        ("OK", "ALARM"),
        ("ALARM", "OK"),
        ("OK", "ALARM"),
    ]
    # The state of the alarm itself is untouched by a backtest.
    assert runtime.service(AlarmsService).get("utm-high-cpu").state_value == "INSUFFICIENT_DATA"


def test_metric_math_alarm_error_rate(runtime, live):
    """The runbook's "API error rate above 5%" as a metric math alarm over two series."""
    cw = live.boto3_client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="utm-error-rate-pct",
        EvaluationPeriods=2,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=[
            {
                "Id": "errors",
                "MetricStat": {
                    "Metric": {"Namespace": "UTM/Application", "MetricName": "5XXError"},
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {
                "Id": "requests",
                "MetricStat": {
                    "Metric": {"Namespace": "UTM/Application", "MetricName": "RequestCount"},
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {
                "Id": "rate",
                "Expression": "100 * errors / requests",
                "Label": "error rate",
                "ReturnData": True,
            },
        ],
    )
    got = cw.describe_alarms(AlarmNames=["utm-error-rate-pct"])["MetricAlarms"][0]
    assert got["Metrics"][2]["Expression"] == "100 * errors / requests" and "MetricName" not in got
    minute = int(time.time() // 60) * 60
    data = []
    for k, (err, req) in enumerate([(3, 100), (12, 100)]):
        ts = dt.datetime.fromtimestamp(minute - 120 + 60 * k + 1, dt.UTC)
        data += [
            {"MetricName": "5XXError", "Timestamp": ts, "Value": err},
            {"MetricName": "RequestCount", "Timestamp": ts, "Value": req},
        ]
    cw.put_metric_data(Namespace="UTM/Application", MetricData=data)
    # METRICS() sees every series of its request: this alarm must not see the other alarm's series.
    cw.put_metric_alarm(
        AlarmName="utm-requests-all", EvaluationPeriods=1, Threshold=150,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=[
            {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "UTM/Application", "MetricName": "RequestCount"},
                                        "Period": 60, "Stat": "Sum"}, "ReturnData": False},
            {"Id": "total", "Expression": "SUM(METRICS())", "ReturnData": True},
        ])
    svc = runtime.service(AlarmsService)
    r = svc.evaluate_due(time.time())
    assert r.evaluated == 2 and r.queries == 2  # the shared batch, and the METRICS() alarm's own
    isolated = svc.get("utm-requests-all")
    assert isolated.state_value == "OK" and "[100.0 (" in isolated.state_reason, isolated.state_reason
    a = svc.get("utm-error-rate-pct")
    assert a.state_value == "OK"  # 3% then 12%: one of two periods breaches
    assert "[12.0 (" not in a.state_reason and "3.0 (" in a.state_reason
    cw.put_metric_data(
        Namespace="UTM/Application",
        MetricData=[
            {
                "MetricName": "5XXError",
                "Timestamp": dt.datetime.fromtimestamp(minute - 120 + 2, dt.UTC),
                "Value": 5,
            }
        ],
    )
    svc.evaluate_due(time.time() + 60)
    a = svc.get("utm-error-rate-pct")
    assert a.state_value == "ALARM", a.state_reason
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_alarm(
            AlarmName="bad-math",
            EvaluationPeriods=1,
            Threshold=5,
            ComparisonOperator="GreaterThanThreshold",
            Metrics=[{"Id": "e", "Expression": "100 * (", "ReturnData": True, "Period": 60}],
        )
    assert "Error in expression e" in str(e.value)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_alarm(
            AlarmName="bad-ref",
            EvaluationPeriods=1,
            Threshold=5,
            ComparisonOperator="GreaterThanThreshold",
            Metrics=[{"Id": "e", "Expression": "100 * errs / requests", "ReturnData": True, "Period": 60}],
        )
    assert "unknown metric or expression id 'errs'" in str(e.value)

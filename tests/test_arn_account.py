"""The runbook's ``ACCOUNT`` placeholder: replaced by the server's account id, never stored;
any other account that is not 12 digits is refused, as AWS refuses it."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

PLACEHOLDER = "arn:aws:sns:us-east-1:ACCOUNT:utm-alerts"
REAL = "arn:aws:sns:us-east-1:000000000000:utm-alerts"


def _alarm(cw, name: str, action: str) -> None:
    cw.put_metric_alarm(AlarmName=name, Namespace="UTM/Application", MetricName="APILatency", Statistic="Average",
                        Period=60, Threshold=500, ComparisonOperator="GreaterThanThreshold", EvaluationPeriods=1,
                        AlarmActions=[action], OKActions=[action])


def test_alarm_actions_store_the_real_account(live):
    sns, cw = live.boto3_client("sns"), live.boto3_client("cloudwatch")
    assert sns.create_topic(Name="utm-alerts")["TopicArn"] == REAL
    _alarm(cw, "latency", PLACEHOLDER)
    alarm = cw.describe_alarms(AlarmNames=["latency"])["MetricAlarms"][0]
    assert alarm["AlarmActions"] == [REAL] and alarm["OKActions"] == [REAL]
    assert cw.describe_alarms(ActionPrefix=REAL)["MetricAlarms"][0]["AlarmName"] == "latency"


@pytest.mark.parametrize("account", ["foo", "", "12345", "0000000000001", "acc0unt00000"])
def test_alarm_action_with_a_non_numeric_account_is_refused(live, account):
    cw = live.boto3_client("cloudwatch")
    with pytest.raises(ClientError) as e:
        _alarm(cw, "bad", f"arn:aws:sns:us-east-1:{account}:utm-alerts")
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidParameterValue"
    assert "12-digit account id" in err["Message"] and "AlarmActions" in err["Message"]
    assert cw.describe_alarms()["MetricAlarms"] == []


def test_sns_takes_the_placeholder_and_refuses_other_accounts(live):
    sns = live.boto3_client("sns")
    sns.create_topic(Name="utm-alerts")
    sub = sns.subscribe(TopicArn=PLACEHOLDER, Protocol="email", Endpoint="ops@yourdomain.com",
                        Attributes={"SkipConfirmation": "true"}, ReturnSubscriptionArn=True)
    assert sub["SubscriptionArn"].startswith(REAL + ":")
    assert sns.list_topics()["Topics"] == [{"TopicArn": REAL}]
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn="arn:aws:sns:us-east-1:myaccount:utm-alerts", Message="x")
    assert e.value.response["Error"]["Code"] == "InvalidParameter"
    assert "'myaccount'" in e.value.response["Error"]["Message"]

"""SNS over the query protocol with boto3 as the client: topics, subscriptions, publish."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from rexwatch.services.notify import NotifyService


def _code(e: pytest.ExceptionInfo) -> str:
    return e.value.response["Error"]["Code"]


def test_topics_lifecycle_and_runbook_arns(runtime, live):
    sns = live.boto3_client("sns")
    arn = sns.create_topic(Name="utm-alerts")["TopicArn"]
    assert arn == "arn:aws:sns:us-east-1:000000000000:utm-alerts"
    assert sns.create_topic(Name="utm-alerts")["TopicArn"] == arn  # idempotent by name
    sns.create_topic(Name="other", Attributes={"DisplayName": "Other"})
    assert [t["TopicArn"].rsplit(":", 1)[1] for t in sns.list_topics()["Topics"]] == ["other", "utm-alerts"]

    # The runbook's literal ARN (account 'ACCOUNT') resolves by name.
    runbook_arn = "arn:aws:sns:us-east-1:ACCOUNT:utm-alerts"
    sns.set_topic_attributes(TopicArn=runbook_arn, AttributeName="DisplayName", AttributeValue="UTM alerts")
    attrs = sns.get_topic_attributes(TopicArn=runbook_arn)["Attributes"]
    assert attrs["DisplayName"] == "UTM alerts"
    assert attrs["TopicArn"] == arn
    assert json.loads(attrs["Policy"])["Statement"][0]["Resource"] == arn

    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.create_topic(Name="utm-alerts", Attributes={"DisplayName": "different"})
    assert _code(e) == "InvalidParameter"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.create_topic(Name="bad name!")
    assert _code(e) == "InvalidParameter"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.get_topic_attributes(TopicArn="arn:aws:sns:us-east-1:000000000000:nope")
    assert _code(e) == "NotFound"

    sns.tag_resource(ResourceArn=runbook_arn, Tags=[{"Key": "team", "Value": "ops"}, {"Key": "x", "Value": "1"}])
    sns.untag_resource(ResourceArn=arn, TagKeys=["x"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ops"}]

    sns.delete_topic(TopicArn=runbook_arn)
    sns.delete_topic(TopicArn=runbook_arn)  # deleting twice is fine, as in SNS
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [arn.replace("utm-alerts", "other")]


def test_subscriptions_confirmation_and_attributes(runtime, live):
    sns = live.boto3_client("sns")
    arn = sns.create_topic(Name="utm-alerts")["TopicArn"]
    r = sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="ops@yourdomain.com")
    assert r["SubscriptionArn"] == "pending confirmation"
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert subs[0]["SubscriptionArn"] == "PendingConfirmation" and subs[0]["Endpoint"] == "ops@yourdomain.com"

    # The confirmation delivery is queued with the token; subscribing again while pending resends it.
    rows = runtime.service(NotifyService).deliveries()
    assert [r["kind"] for r in rows] == ["SubscriptionConfirmation"]
    assert sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="ops@yourdomain.com")["SubscriptionArn"] == \
        "pending confirmation"
    rows = runtime.service(NotifyService).deliveries()
    assert [r["kind"] for r in rows] == ["SubscriptionConfirmation"] * 2
    assert len({r["subscription_arn"] for r in rows}) == 1
    from sqlalchemy import select

    from rexwatch.stores.control.tables.notify import notify_subscriptions

    with runtime.control.connect() as conn:
        token = conn.execute(select(notify_subscriptions.c.token)).scalar_one()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.confirm_subscription(TopicArn=arn, Token="wrong")
    assert _code(e) == "InvalidParameter"
    sub_arn = sns.confirm_subscription(TopicArn=arn, Token=token)["SubscriptionArn"]
    assert sub_arn.startswith(arn + ":")

    slack = sns.subscribe(TopicArn=arn, Protocol="slack", Endpoint="https://hooks.slack.com/services/T0/B0/SECRET",
                          ReturnSubscriptionArn=True)["SubscriptionArn"]
    listed = {s["Protocol"]: s for s in sns.list_subscriptions()["Subscriptions"]}
    assert listed["slack"]["SubscriptionArn"] == slack
    assert "SECRET" not in listed["slack"]["Endpoint"]  # secrets redacted

    policy = json.dumps({"severity": ["critical", {"prefix": "high"}]})
    sns.set_subscription_attributes(SubscriptionArn=slack, AttributeName="FilterPolicy", AttributeValue=policy)
    got = sns.get_subscription_attributes(SubscriptionArn=slack)["Attributes"]
    assert got["FilterPolicy"] == policy and got["PendingConfirmation"] == "false"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.set_subscription_attributes(SubscriptionArn=slack, AttributeName="FilterPolicy",
                                        AttributeValue='{"a": [{"numeric": ["!", 1]}]}')
    assert _code(e) == "InvalidParameter" and "numeric" in e.value.response["Error"]["Message"]

    # An administrator skips confirmation per subscription.
    hook = sns.subscribe(TopicArn=arn, Protocol="https", Endpoint="https://example.invalid/hook",
                         Attributes={"SkipConfirmation": "true"})["SubscriptionArn"]
    assert hook.startswith(arn + ":")

    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.subscribe(TopicArn=arn, Protocol="carrier-pigeon", Endpoint="x")
    assert _code(e) == "InvalidParameter" and "carrier-pigeon" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="not-an-address")
    assert _code(e) == "InvalidParameter"

    sns.unsubscribe(SubscriptionArn=slack)
    assert {s["Protocol"] for s in sns.list_subscriptions()["Subscriptions"]} == {"email", "https"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.unsubscribe(SubscriptionArn=slack)
    assert _code(e) == "NotFound"


def test_publish_filter_policies_and_batch(runtime, live):
    sns = live.boto3_client("sns")
    arn = sns.create_topic(Name="orders")["TopicArn"]
    crit = sns.subscribe(TopicArn=arn, Protocol="slack", Endpoint="https://hooks.example/crit",
                         Attributes={"FilterPolicy": json.dumps({"severity": ["critical"]})},
                         ReturnSubscriptionArn=True)["SubscriptionArn"]
    body = sns.subscribe(TopicArn=arn, Protocol="slack", Endpoint="https://hooks.example/body",
                         Attributes={"FilterPolicyScope": "MessageBody",
                                     "FilterPolicy": json.dumps({"order": {"total": [{"numeric": [">", 100]}]}})},
                         ReturnSubscriptionArn=True)["SubscriptionArn"]
    every = sns.subscribe(TopicArn=arn, Protocol="slack", Endpoint="https://hooks.example/all",
                          ReturnSubscriptionArn=True)["SubscriptionArn"]

    mid = sns.publish(TopicArn=arn, Message=json.dumps({"order": {"total": 150}}), Subject="big order",
                      MessageAttributes={"severity": {"DataType": "String", "StringValue": "critical"}})["MessageId"]
    svc = runtime.service(NotifyService)
    got = {d["subscription_arn"] for d in svc.message_deliveries(mid)}
    assert got == {crit, body, every}

    mid2 = sns.publish(TopicArn=arn, Message=json.dumps({"order": {"total": 5}}),
                       MessageAttributes={"severity": {"DataType": "String", "StringValue": "low"}})["MessageId"]
    assert {d["subscription_arn"] for d in svc.message_deliveries(mid2)} == {every}

    r = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "one"}, {"Id": "b", "Message": "two", "Subject": "bad\nsubject"}])
    assert [s["Id"] for s in r["Successful"]] == ["a"]
    assert r["Failed"][0]["Id"] == "b" and r["Failed"][0]["SenderFault"] is True

    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.publish(TopicArn=arn, Message="")
    assert _code(e) == "InvalidParameter"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.publish(TopicArn="arn:aws:sns:us-east-1:000000000000:missing", Message="x")
    assert _code(e) == "NotFound"


def test_query_codec_round_trips_botocore_shapes(runtime):
    """Decode what botocore's QuerySerializer produces; encode what botocore's QueryParser reads back."""
    import types

    import botocore.session
    from botocore.parsers import QueryParser
    from botocore.serialize import QuerySerializer

    from rexwatch.aws.protocols import query

    model = botocore.session.get_session().get_service_model("sns")
    op = model.operation_model("Publish")
    params = {"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "m & <b>",
              "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "1.5"},
                                    "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}}
    req = QuerySerializer().serialize_to_request(params, op)
    from urllib.parse import urlencode

    decoded = query.decode(urlencode(req["body"]).encode(), {}, op)
    assert decoded == params

    op = model.operation_model("CreateTopic")
    req = QuerySerializer().serialize_to_request(
        {"Name": "t", "Attributes": {"DisplayName": "D"}, "Tags": [{"Key": "k", "Value": "v"}]}, op)
    assert query.decode(urlencode(req["body"]).encode(), {}, op) == {
        "Name": "t", "Attributes": {"DisplayName": "D"}, "Tags": [{"Key": "k", "Value": "v"}]}

    ctx = types.SimpleNamespace(request_id="rid-1", service="sns")
    op = model.operation_model("GetSubscriptionAttributes")
    body, ctype, _ = query.encode({"Attributes": {"A": "1 < 2", "B": "x", "C": "bell\x07"}}, op, ctx)
    assert ctype == "text/xml"
    parsed = QueryParser().parse({"body": body, "headers": {}, "status_code": 200}, op.output_shape)
    assert parsed["Attributes"] == {"A": "1 < 2", "B": "x", "C": "bell\ufffd"}
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-1"

    op = model.operation_model("PublishBatch")
    result = {"Successful": [{"Id": "a", "MessageId": "m"}],
              "Failed": [{"Id": "b", "Code": "X", "Message": "y", "SenderFault": True}]}
    body, _, _ = query.encode(result, op, ctx)
    parsed = QueryParser().parse({"body": body, "headers": {}, "status_code": 200}, op.output_shape)
    assert parsed["Successful"] == result["Successful"] and parsed["Failed"] == result["Failed"]

    from rexwatch.aws.errors import AwsError

    status, body, _, _ = query.encode_error(AwsError("NotFound", "Topic does not exist", 404), ctx)
    parsed = QueryParser().parse({"body": body, "headers": {}, "status_code": status}, None)
    assert parsed["Error"]["Code"] == "NotFound" and parsed["Error"]["Type"] == "Sender"
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-1"

    with pytest.raises(AwsError) as e:
        query.decode(b"Action=Subscribe&Version=2010-03-31&TopicArn=x", {},
                     model.operation_model("Subscribe"))
    assert e.value.code == "InvalidParameter" and "Protocol" in e.value.message


def test_query_codec_is_generic_over_cloudwatch_shapes():
    """The same codec decodes CloudWatch's query dialect (nested lists, doubles, timestamps) and encodes
    its results so botocore reads them back unchanged."""
    import datetime as dt
    import types
    from urllib.parse import urlencode

    import botocore.session
    from botocore.parsers import QueryParser
    from botocore.serialize import QuerySerializer

    from rexwatch.aws.protocols import query

    model = botocore.session.get_session().get_service_model("cloudwatch")
    op = model.operation_model("PutMetricAlarm")
    params = {"AlarmName": "utm-high-cpu", "MetricName": "CPUUtilization", "Namespace": "AWS/ECS",
              "Statistic": "Average", "Period": 300, "EvaluationPeriods": 3, "Threshold": 80.5,
              "ComparisonOperator": "GreaterThanThreshold", "ActionsEnabled": False,
              "Dimensions": [{"Name": "ServiceName", "Value": "utm-api"}],
              "AlarmActions": ["arn:aws:sns:us-east-1:ACCOUNT:utm-alerts"], "OKActions": []}
    req = QuerySerializer().serialize_to_request(params, op)
    assert query.decode(urlencode(req["body"]).encode(), {}, op) == params

    op = model.operation_model("DescribeAlarms")
    when = dt.datetime(2026, 11, 26, 10, 15, 0, 123000, tzinfo=dt.UTC)
    result = {"MetricAlarms": [{"AlarmName": "a", "Threshold": 80.5, "EvaluationPeriods": 3,
                                "ActionsEnabled": True, "StateUpdatedTimestamp": when,
                                "Dimensions": [{"Name": "ServiceName", "Value": "utm-api"}],
                                "AlarmActions": ["arn:1", "arn:2"]}], "NextToken": "n"}
    ctx = types.SimpleNamespace(request_id="r", service="cloudwatch")
    body, _, _ = query.encode(result, op, ctx)
    parsed = QueryParser().parse({"body": body, "headers": {}, "status_code": 200}, op.output_shape)
    parsed.pop("ResponseMetadata")
    assert parsed == result

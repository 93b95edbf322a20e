"""Delivery through real receivers: aiosmtpd for mail, local HTTP servers for Slack and webhooks."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from notify_helpers import Mailbox, Receiver, deliver_all
from rexwatch.services.notify import NotifyService
from rexwatch.services.notify.signing import verify

ALARM = {
    "AlarmName": "utm-high-cpu",
    "AlarmDescription": "CPU above 80% for 15 minutes",
    "AWSAccountId": "000000000000",
    "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 3 datapoints [91.2, 88.0, 85.5] were greater than the threshold (80.0).",
    "StateChangeTime": "2026-11-26T10:15:00.000+0000",
    "Region": "us-east-1",
    "AlarmArn": "arn:aws:cloudwatch:us-east-1:000000000000:alarm:utm-high-cpu",
    "OldStateValue": "OK",
    "Trigger": {"MetricName": "CPUUtilization", "Namespace": "AWS/ECS", "Statistic": "AVERAGE",
                "Dimensions": [{"name": "ServiceName", "value": "utm-api"}], "Period": 300,
                "EvaluationPeriods": 3, "ComparisonOperator": "GreaterThanThreshold", "Threshold": 80.0},
}


@pytest.fixture
def mailbox(runtime):
    box = Mailbox()
    runtime.settings.smtp_host, runtime.settings.smtp_port = "127.0.0.1", box.port
    yield box
    box.close()


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(behaviour=None) -> Receiver:
        r = Receiver(behaviour) if behaviour else Receiver()
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def test_email_confirmation_link_then_readable_alarm_mail(runtime, client, mailbox):
    svc = runtime.service(NotifyService)
    arn = svc.create_topic("utm-alerts")
    assert svc.subscribe("arn:aws:sns:us-east-1:ACCOUNT:utm-alerts", "email", "ops@yourdomain.com") == \
        "pending confirmation"
    deliver_all(runtime)
    [mail] = mailbox.wait_for(1)
    assert mail["To"] == "ops@yourdomain.com"
    assert mail["Subject"] == "AWS Notification - Subscription Confirmation"
    link = re.search(r"(http://\S+/sns/confirm\?\S+)", mail.get_body(("plain",)).get_content()).group(1)
    page = client.get(link.split("/", 3)[3].join(["/", ""]))
    assert page.status_code == 200 and "Subscription confirmed" in page.text
    assert svc.list_subscriptions(arn)[0][0].status == "confirmed"

    svc.subscribe(arn, "email-json", "robot@yourdomain.com", {"SkipConfirmation": "true"})

    # The alarms engine writes its transition and the notification in one transaction.
    with runtime.control.begin() as conn:
        r = svc.enqueue(conn, arn, ALARM)
    assert r.deliveries == 2
    # A rolled-back transaction leaves nothing to send.
    with pytest.raises(RuntimeError), runtime.control.begin() as conn:
        svc.enqueue(conn, arn, {**ALARM, "AlarmName": "never-sent"})
        raise RuntimeError("transition failed")
    deliver_all(runtime)
    mails = mailbox.wait_for(3)
    assert len(mailbox.messages) == 3  # deliver_all is done: a mail sent twice would be here already
    by_to = {m["To"]: m for m in mails[1:]}
    alarm_mail = by_to["ops@yourdomain.com"]
    assert alarm_mail["Subject"] == 'ALARM: "utm-high-cpu" in US East (N. Virginia)'
    text = alarm_mail.get_body(("plain",)).get_content()
    html = alarm_mail.get_body(("html",)).get_content()
    assert "Threshold Crossed: 3 datapoints" in text and "OK -> ALARM" in text
    assert f"{runtime.settings.base_url}/alarms/utm-high-cpu" in text
    assert f"{runtime.settings.base_url}/alarms/utm-high-cpu" in html and "<table>" in html
    assert "ServiceName=utm-api" in text
    assert alarm_mail["X-Rexwatch-Message-Id"] == r.message_id
    # email-json gets the SNS envelope with the alarm JSON as Message, and CloudWatch's Subject.
    env = json.loads(by_to["robot@yourdomain.com"].get_body(("plain",)).get_content())
    assert env["Type"] == "Notification" and env["MessageId"] == r.message_id
    assert env["Subject"] == 'ALARM: "utm-high-cpu" in US East (N. Virginia)'
    assert json.loads(env["Message"]) == ALARM
    delivered = svc.message_deliveries(r.message_id)
    assert [(d["status"], d["attempts"]) for d in delivered] == [("delivered", 1)] * 2


def test_webhook_confirmation_envelope_and_signature(runtime, live, receivers):
    svc = runtime.service(NotifyService)
    hook = receivers()
    arn = svc.create_topic("utm-alerts")
    sub_arn = svc.subscribe(arn, "http", hook.url, return_arn=True)
    deliver_all(runtime)
    [conf] = hook.wait_for(1)
    assert conf.headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    body = conf.json
    assert body["Type"] == "SubscriptionConfirmation" and body["TopicArn"] == arn and body["Token"]
    assert httpx.get(body["SubscribeURL"]).status_code == 200  # the receiver visits SubscribeURL
    assert svc.get_subscription(sub_arn).status == "confirmed"

    secret = httpx.get(f"{live.url}/api/v1/subscriptions/{sub_arn}/signing-secret").json()["secret"]
    assert verify(secret, conf.body, conf.headers["x-rexwatch-signature"])

    mid = svc.publish(arn, "deploy finished", subject="Deploy",
                      attributes={"env": {"DataType": "String", "StringValue": "prod"}}).message_id
    deliver_all(runtime)
    note = hook.wait_for(2)[1]
    env = note.json
    assert env["Type"] == "Notification" and env["MessageId"] == mid and env["Subject"] == "Deploy"
    assert env["Message"] == "deploy finished" and env["TopicArn"] == arn
    assert env["MessageAttributes"] == {"env": {"Type": "String", "Value": "prod"}}
    assert env["UnsubscribeURL"].startswith(live.url) and env["Timestamp"].endswith("Z")
    assert verify(secret, note.body, note.headers["x-rexwatch-signature"])
    assert not verify(secret, note.body + b" ", note.headers["x-rexwatch-signature"])
    # The unsubscribe link works with its token only.
    assert httpx.get(env["UnsubscribeURL"].replace("Token=", "Token=x")).status_code == 400
    assert httpx.get(env["UnsubscribeURL"]).status_code == 200
    assert svc.list_subscriptions(arn)[0] == []


def test_slack_blocks_coloured_by_state(runtime, receivers):
    svc = runtime.service(NotifyService)
    slack = receivers()
    arn = svc.create_topic("utm-alerts")
    svc.subscribe(arn, "slack", slack.url)
    with runtime.control.begin() as conn:
        svc.enqueue(conn, arn, ALARM)
    with runtime.control.begin() as conn:
        svc.enqueue(conn, arn, {**ALARM, "NewStateValue": "OK", "OldStateValue": "ALARM",
                                "NewStateReason": "Threshold Crossed: back to normal"})
    deliver_all(runtime)
    first, second = (r.json for r in slack.wait_for(2))
    colours = {first["attachments"][0]["color"], second["attachments"][0]["color"]}
    assert colours == {"#d62728", "#2ca02c"}
    alarm_msg = first if first["text"].startswith("ALARM") else second
    assert alarm_msg["text"] == 'ALARM: "utm-high-cpu" in US East (N. Virginia)'
    blocks = alarm_msg["attachments"][0]["blocks"]
    assert blocks[0]["type"] == "header"
    assert any(b["type"] == "actions" and b["elements"][0]["url"].endswith("/alarms/utm-high-cpu")
               for b in blocks)


def test_retries_with_backoff_until_the_receiver_recovers(runtime, receivers):
    runtime.settings.notify_backoff_scale = 0.02  # 2 s, 4 s … become 40 ms, 80 ms …
    svc = runtime.service(NotifyService)
    flaky = receivers(lambda n, r: (503 if n <= 2 else 200, 0.0))
    arn = svc.create_topic("t")
    svc.subscribe(arn, "slack", flaky.url)
    mid = svc.publish(arn, "hello").message_id
    deliver_all(runtime, until=lambda: svc.message_deliveries(mid)[0]["status"] == "delivered")
    reqs = flaky.wait_for(3)
    assert len(reqs) == 3
    [d] = svc.message_deliveries(mid)
    assert d["status"] == "delivered" and d["attempts"] == 3 and d["last_error"] is None


def test_hanging_receiver_times_out_and_stays_queued(runtime, receivers):
    runtime.settings.notify_timeout_s = 0.5
    svc = runtime.service(NotifyService)
    hang = receivers(lambda n, r: (200, 30.0))
    arn = svc.create_topic("t")
    svc.subscribe(arn, "slack", hang.url)
    mid = svc.publish(arn, "hello").message_id
    started = time.monotonic()
    deliver_all(runtime)
    assert time.monotonic() - started < 20  # the timeout cut the 30 s hang short (a bound, not a speed goal)
    [d] = svc.message_deliveries(mid)
    assert d["status"] == "pending" and d["attempts"] == 1 and "timed out" in d["last_error"]
    assert d["next_attempt_at"] is not None


def test_dead_letters_and_replay_over_rest(runtime, client, receivers):
    svc = runtime.service(NotifyService)
    state = {"ok": False}
    hook = receivers(lambda n, r: (200 if state["ok"] else 404, 0.0))
    arn = svc.create_topic("t")
    svc.subscribe(arn, "slack", hook.url + "/T000/SECRETPATH")
    mid = svc.publish(arn, "hello").message_id
    deliver_all(runtime)
    dead = client.get("/api/v1/deliveries/dead-letters").json()
    assert [(d["message_id"], d["status"], d["attempts"]) for d in dead] == [(mid, "dead", 1)]
    assert "SECRETPATH" not in str(dead) and "HTTP 404" in dead[0]["last_error"]

    state["ok"] = True
    assert client.post("/api/v1/deliveries/replay", json={"ids": [dead[0]["id"]]}).json() == {"replayed": 1}
    deliver_all(runtime)
    log = client.get("/api/v1/deliveries", params={"message_id": mid}).json()
    assert [(d["status"], d["attempts"]) for d in log] == [("delivered", 1)]
    assert client.get("/api/v1/deliveries/dead-letters").json() == []
    assert [r.json["text"] for r in hook.requests] == ["AWS Notification Message"] * 2
    bad = client.get("/api/v1/deliveries", params={"status": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "status"

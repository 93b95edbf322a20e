"""What receivers get: the SNS JSON envelope, alarm emails and chat messages."""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Any
from urllib.parse import quote

from rexwatch.regions import long_name
from rexwatch.timeparse import as_utc

# Colours by alarm state (Slack attachment / Discord embed / Teams theme).
STATE_COLOURS = {"ALARM": "#d62728", "OK": "#2ca02c", "INSUFFICIENT_DATA": "#7f7f7f"}
DEFAULT_COLOUR = "#1f77b4"
DEFAULT_SUBJECT = "AWS Notification Message"


def alarm_of(message: str) -> dict[str, Any] | None:
    """The CloudWatch alarm payload inside a message, if that is what it is."""
    if not message.startswith("{"):
        return None
    try:
        doc = json.loads(message)
    except ValueError:
        return None
    if isinstance(doc, dict) and "AlarmName" in doc and "NewStateValue" in doc:
        return doc
    return None


def region_name(alarm: dict[str, Any], default_region: str) -> str:
    return long_name(alarm.get("Region") or default_region)


def alarm_subject(alarm: dict[str, Any], default_region: str) -> str:
    subject = (
        f'{alarm.get("NewStateValue")}: "{alarm.get("AlarmName")}" in {region_name(alarm, default_region)}'
    )
    return subject[:100]


def alarm_url(base_url: str, alarm: dict[str, Any]) -> str:
    return f"{base_url}/alarms/{quote(str(alarm.get('AlarmName', '')), safe='')}"


def iso(ts: dt.datetime) -> str:
    return as_utc(ts).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def envelope(msg: Any) -> dict[str, Any]:
    """The SNS HTTP/email-json body: Notification or SubscriptionConfirmation."""
    if msg.kind == "SubscriptionConfirmation":
        return {
            "Type": "SubscriptionConfirmation",
            "MessageId": msg.message_id,
            "Token": msg.token,
            "TopicArn": msg.topic_arn,
            "Message": (
                f"You have chosen to subscribe to the topic {msg.topic_arn}.\n"
                "To confirm the subscription, visit the SubscribeURL included in this message."
            ),
            "SubscribeURL": msg.subscribe_url,
            "Timestamp": iso(msg.published_at),
            "SignatureVersion": "rexwatch-hmac-sha256",
        }
    body: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": msg.message_id,
        "TopicArn": msg.topic_arn,
    }
    if msg.subject is not None:
        body["Subject"] = msg.subject
    body.update(
        {
            "Message": msg.message,
            "Timestamp": iso(msg.published_at),
            "SignatureVersion": "rexwatch-hmac-sha256",
            "UnsubscribeURL": msg.unsubscribe_url,
        }
    )
    if msg.attributes:
        body["MessageAttributes"] = {
            k: {"Type": v.get("DataType", "String"), "Value": v.get("StringValue", v.get("BinaryValue"))}
            for k, v in msg.attributes.items()
        }
    return body


def subject_for(msg: Any) -> str:
    if msg.kind == "SubscriptionConfirmation":
        return "AWS Notification - Subscription Confirmation"
    if msg.subject:
        return msg.subject
    if msg.alarm:
        return alarm_subject(msg.alarm, msg.region)
    return DEFAULT_SUBJECT


def title_for(msg: Any) -> str:
    if msg.alarm:
        return alarm_subject(msg.alarm, msg.region)
    return msg.subject or DEFAULT_SUBJECT


def colour_for(msg: Any) -> str:
    if msg.alarm:
        return STATE_COLOURS.get(str(msg.alarm.get("NewStateValue")), DEFAULT_COLOUR)
    return DEFAULT_COLOUR


def _trigger_line(trigger: dict[str, Any]) -> str:
    if not trigger:
        return ""
    stat = trigger.get("Statistic") or trigger.get("ExtendedStatistic") or ""
    op = {
        "GreaterThanThreshold": ">",
        "GreaterThanOrEqualToThreshold": ">=",
        "LessThanThreshold": "<",
        "LessThanOrEqualToThreshold": "<=",
    }.get(str(trigger.get("ComparisonOperator")), str(trigger.get("ComparisonOperator", "")))
    return (
        f"{stat} {trigger.get('Namespace', '')}/{trigger.get('MetricName', '')} {op} "
        f"{trigger.get('Threshold')} for {trigger.get('EvaluationPeriods')} period(s) of "
        f"{trigger.get('Period')} seconds"
    ).strip() if "LogGroupNames" not in trigger else (
        f"{trigger.get('ValueColumn')} {op} {trigger.get('Threshold')} over the last "
        f"{trigger.get('QueryWindow')} seconds of {', '.join(trigger.get('LogGroupNames') or [])}"
        + (f" per {', '.join(trigger['GroupBy'])}" if trigger.get("GroupBy") else "")
    )


def _offending(alarm: dict[str, Any]) -> str:
    """A log alarm's offending rows, one ``col=value, ...`` line each."""
    rows = alarm.get("OffendingRows") or []
    return "\n".join(", ".join(f"{k}={v}" for k, v in r.items()) for r in rows if isinstance(r, dict))


def alarm_rows(alarm: dict[str, Any], default_region: str) -> list[tuple[str, str]]:
    trig = alarm.get("Trigger") or {}
    rows = [
        ("Name", str(alarm.get("AlarmName", ""))),
        ("Description", str(alarm.get("AlarmDescription") or "")),
        ("State change", f"{alarm.get('OldStateValue', '?')} -> {alarm.get('NewStateValue', '?')}"),
        ("Reason", str(alarm.get("NewStateReason", ""))),
        ("Timestamp", str(alarm.get("StateChangeTime", ""))),
        ("AWS Account", str(alarm.get("AWSAccountId", ""))),
        ("Region", region_name(alarm, default_region)),
        ("Alarm ARN", str(alarm.get("AlarmArn", ""))),
    ]
    line = _trigger_line(trig)
    if line:
        rows.append(("Threshold", line))
    dims = trig.get("Dimensions") or []
    if dims:
        rows.append(
            (
                "Dimensions",
                ", ".join(f"{d.get('name', d.get('Name'))}={d.get('value', d.get('Value'))}" for d in dims),
            )
        )
    offending = _offending(alarm)
    if offending:
        rows.append(("Offending rows", offending))
    return [(k, v) for k, v in rows if v]


def email_bodies(msg: Any) -> tuple[str, str | None]:
    """(plain text, HTML or None) of an email notification."""
    footer = (
        "\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the link "
        f"below to unsubscribe:\n{msg.unsubscribe_url}\n"
    )
    if msg.kind == "SubscriptionConfirmation":
        text = (
            f"You have chosen to subscribe to the topic:\n{msg.topic_arn}\n\n"
            f"To confirm this subscription, click or visit the link below "
            f"(If this was in error no action is necessary):\n{msg.subscribe_url}\n"
        )
        page = (
            f"<p>You have chosen to subscribe to the topic:<br><b>{html.escape(msg.topic_arn)}</b></p>"
            f'<p><a href="{html.escape(msg.subscribe_url)}">Confirm subscription</a></p>'
        )
        return text, _page("Subscription confirmation", page)
    if not msg.alarm:
        return msg.message + footer, None
    a = msg.alarm
    link = alarm_url(msg.base_url, a)
    rows = alarm_rows(a, msg.region)
    width = max(len(k) for k, _ in rows)
    text = (
        f'You are receiving this email because your alarm "{a.get("AlarmName")}" in the '
        f"{region_name(a, msg.region)} region has entered the {a.get('NewStateValue')} state, "
        f'because "{a.get("NewStateReason", "")}" at "{a.get("StateChangeTime", "")}".\n\n'
        f"View this alarm in rexwatch:\n{link}\n\nAlarm Details:\n"
        + "\n".join(f"- {k + ':':<{width + 1}} {v}" for k, v in rows)
        + footer
    )
    colour = colour_for(msg)
    table = "".join(
        f"<tr><th style='text-align:left;padding:4px 12px 4px 0'>{html.escape(k)}</th>"
        f"<td style='padding:4px 0'>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    page = (
        f"<h2 style='color:{colour};margin:0 0 12px'>{html.escape(title_for(msg))}</h2>"
        f"<p>{html.escape(str(a.get('NewStateReason', '')))}</p>"
        f"<p><a href='{html.escape(link)}'>View this alarm in rexwatch</a></p>"
        f"<table>{table}</table>"
        f"<p style='color:#777;font-size:12px'><a href='{html.escape(msg.unsubscribe_url)}'>Unsubscribe</a></p>"
    )
    return text, _page(title_for(msg), page)


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body style='font-family:Helvetica,Arial,sans-serif;font-size:14px'>{body}</body></html>"
    )


def chat_text(msg: Any) -> str:
    """A short plain summary for chat receivers."""
    if msg.alarm:
        a = msg.alarm
        return f"{a.get('NewStateReason', '')}"
    return msg.message


def chat_fields(msg: Any) -> list[tuple[str, str]]:
    if not msg.alarm:
        return []
    a = msg.alarm
    out = [("State", f"{a.get('OldStateValue', '?')} → {a.get('NewStateValue', '?')}")]
    if a.get("AlarmDescription"):
        out.append(("Description", str(a["AlarmDescription"])))
    line = _trigger_line(a.get("Trigger") or {})
    if line:
        out.append(("Threshold", line))
    out.append(("Region", region_name(a, msg.region)))
    return out

"""SNS ARNs. Topics resolve by name, so ARNs naming any region or account work
(a runbook's literal ``arn:aws:sns:us-east-1:ACCOUNT:utm-alerts``)."""

from __future__ import annotations

import re

from rexwatch.errors import Invalid

TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_ARN = re.compile(r"^arn:[^:]+:sns:([^:]*):([^:]*):([^:]+)(?::([^:]+))?$")


def topic_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sns:{region}:{account}:{name}"


def check_topic_name(name: str) -> str:
    if not name or not TOPIC_NAME.match(name):
        raise Invalid(
            "Invalid parameter: Topic Name: must be 1-256 characters of letters, digits, '_' and '-'",
            field="Name",
        )
    return name


def topic_name(arn: str, field: str = "TopicArn") -> str:
    """The topic name inside a topic ARN (any region/account); a bare name is accepted too."""
    if not arn:
        raise Invalid(f"Invalid parameter: {field} is required", field=field)
    if not arn.startswith("arn:"):
        return check_topic_name(arn)
    m = _ARN.match(arn)
    if not m or m.group(4):
        raise Invalid(f"Invalid parameter: {field}: {arn!r} is not a topic ARN", field=field)
    return m.group(3)


def subscription_id(arn: str, field: str = "SubscriptionArn") -> str:
    """The id at the end of a subscription ARN (or the bare id)."""
    if not arn:
        raise Invalid(f"Invalid parameter: {field} is required", field=field)
    if not arn.startswith("arn:"):
        return arn
    m = _ARN.match(arn)
    if not m or not m.group(4):
        raise Invalid(f"Invalid parameter: {field}: {arn!r} is not a subscription ARN", field=field)
    return m.group(4)

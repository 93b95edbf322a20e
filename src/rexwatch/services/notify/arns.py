"""SNS ARNs. Topics resolve by name, so ARNs naming any region work. The account
must be 12 digits, as AWS requires, or the runbook's literal placeholder
``ACCOUNT`` (``arn:aws:sns:us-east-1:ACCOUNT:utm-alerts``), which stands for
this server's account id; ARNs that are stored have it replaced."""

from __future__ import annotations

import re

from rexwatch.errors import Invalid

TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_ARN = re.compile(r"^arn:[^:]+:sns:([^:]*):([^:]*):([^:]+)(?::([^:]+))?$")
ACCOUNT_PLACEHOLDER = "ACCOUNT"
_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")


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
    _check_account(m.group(2), arn, field)
    return m.group(3)


def _check_account(account: str, arn: str, field: str) -> None:
    if account != ACCOUNT_PLACEHOLDER and not _ACCOUNT_ID.match(account):
        raise Invalid(
            f"Invalid parameter: {field}: the account {account!r} in {arn!r} is not a 12-digit account id "
            f"(the placeholder {ACCOUNT_PLACEHOLDER} stands for this server's)",
            field=field,
        )


def resolve_account(arn: str, account: str, field: str) -> str:
    """``arn`` with the ``ACCOUNT`` placeholder replaced by ``account``; other non-numeric accounts
    are refused. Only the account field of an ``arn:partition:service:region:account:...`` changes."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        raise Invalid(f"Invalid parameter: {field}: {arn!r} is not an ARN", field=field)
    _check_account(parts[4], arn, field)
    if parts[4] == ACCOUNT_PLACEHOLDER:
        parts[4] = account
    return ":".join(parts)


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

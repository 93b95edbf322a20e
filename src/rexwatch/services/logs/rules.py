"""CloudWatch Logs names, limits and allowed values, checked in one place."""

from __future__ import annotations

import re

from rexwatch.errors import Invalid

GROUP_NAME = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
# Stream names: 1-512 characters, no ':' and no '*'.
STREAM_NAME_FORBIDDEN = re.compile(r"[:*]")

RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                  2922, 3288, 3653)

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 1_048_576 - EVENT_OVERHEAD
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000
TOO_OLD_MS = 14 * 24 * 3600 * 1000
TOO_NEW_MS = 2 * 3600 * 1000

DESCRIBE_LIMIT = 50
MAX_FILTER_STREAMS = 100  # logStreamNames of FilterLogEvents
MAX_POLICY_GROUPS = 1  # DescribeIndexPolicies
MAX_FIELD_INDEX_GROUPS = 100  # DescribeFieldIndexes
EVENTS_LIMIT = 10_000
MAX_INDEX_FIELDS = 20
INDEX_FIELD = re.compile(r"^[A-Za-z_@][A-Za-z0-9_@\-]*(\[[0-9]+\])*(\.[A-Za-z_@][A-Za-z0-9_@\-]*(\[[0-9]+\])*)*$")


def check_group_name(name: object, field: str = "logGroupName") -> str:
    if not isinstance(name, str) or not GROUP_NAME.match(name):
        raise Invalid(
            f"{field} {name!r} is invalid: use 1-512 characters of letters, digits and . - _ / #",
            field=field,
        )
    return name


def check_stream_name(name: object, field: str = "logStreamName") -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 512 or STREAM_NAME_FORBIDDEN.search(name):
        raise Invalid(
            f"{field} {name!r} is invalid: use 1-512 characters without ':' or '*'", field=field
        )
    return name


def check_retention(days: object) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or days not in RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in RETENTION_DAYS)
        raise Invalid(f"retentionInDays {days!r} is invalid; allowed values: {allowed}", field="retentionInDays")
    return days


# Times are AWS longs (epoch ms; Insights: epoch s): 0 to 2^63 - 1. The store holds times up to the end
# of 2299 (DateTime64(3)); a valid time past that selects as if it were that instant.
MAX_LONG = 2**63 - 1
MAX_STORED_MS = 10_413_791_999_999


def check_time(value: object, field: str) -> int:
    """An AWS Timestamp member: an integer from 0 to 2^63 - 1, else InvalidParameterException."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{field} must be an integer (epoch time), got {value!r}", field=field)
    if value < 0:
        raise Invalid(f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
                      "Member must have value greater than or equal to 0", field=field)
    if value > MAX_LONG:
        raise Invalid(f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
                      f"Member must have value less than or equal to {MAX_LONG}", field=field)
    return value


def clamp_ms(value: int) -> int:
    return min(value, MAX_STORED_MS)


def check_limit(limit: object, maximum: int, field: str = "limit") -> int:
    if limit is None:
        return maximum
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise Invalid(f"{field} must be an integer from 1 to {maximum}, got {limit!r}", field=field)
    return limit


def check_identifiers(idents: object, maximum: int, field: str = "logGroupIdentifiers") -> list[str]:
    if not isinstance(idents, list) or not 1 <= len(idents) <= maximum:
        raise Invalid(f"{field} must name 1 to {maximum} log groups", field=field)
    return idents


def group_identifier(ident: str) -> str:
    """A log group name from a name or an ARN (``arn:aws:logs:r:a:log-group:NAME[:*]``)."""
    if ident.startswith("arn:"):
        parts = ident.split(":", 6)
        if len(parts) < 7 or parts[5] != "log-group":
            raise Invalid(f"logGroupIdentifier {ident!r} is not a log group ARN", field="logGroupIdentifier")
        name = parts[6]
        if name.endswith(":*"):
            name = name[:-2]
        return check_group_name(name, "logGroupIdentifier")
    return check_group_name(ident, "logGroupIdentifier")

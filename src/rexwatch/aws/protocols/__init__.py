"""Wire codecs: decode a request into params and encode a result or error.

``CODECS`` maps a protocol name to its module; each module provides
``decode(body, headers, op_model) -> dict``, ``encode(result, op_model, ctx) ->
(body, content_type, headers)`` and ``encode_error(err, ctx) -> (status, body,
content_type, headers)``. Adding a protocol is one module plus one line.
"""

import datetime as dt
import math

CODECS: dict[str, str] = {
    "json": "rexwatch.aws.protocols.json",
    "cbor": "rexwatch.aws.protocols.cbor",
    "query": "rexwatch.aws.protocols.query",
    "ec2": "rexwatch.aws.protocols.ec2",
    "rest-json": "rexwatch.aws.protocols.restjson",
}


def from_epoch(value: float) -> dt.datetime:
    """Epoch seconds as an aware datetime; ValueError (never OverflowError or OSError) for a
    value no datetime can hold: NaN, infinities, before year 1 or after 9999."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{value} is not a point in time")
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"{value:g} seconds since the epoch is outside years 1-9999")


def parse_time(raw: str) -> dt.datetime:
    """A query-protocol timestamp: epoch seconds or ISO 8601 (UTC when it names no zone)."""
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        return from_epoch(value)
    parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)

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
}

# The instants a datetime can hold (years 1 to 9999), in epoch seconds.
EPOCH_MIN, EPOCH_MAX = -62135596800, 253402300799


def from_epoch(value: float) -> dt.datetime:
    """Epoch seconds from the wire as an aware datetime; ValueError (never OverflowError or
    OSError) for NaN, infinities and instants outside years 1 to 9999, so codecs answer 400."""
    if not math.isfinite(value) or not EPOCH_MIN <= value <= EPOCH_MAX:
        raise ValueError(f"{value!r} is not a timestamp between years 1 and 9999")
    return dt.datetime.fromtimestamp(value, dt.UTC)

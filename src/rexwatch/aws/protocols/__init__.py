"""Wire codecs: decode a request into params and encode a result or error.

``CODECS`` maps a protocol name to its module; each module provides
``decode(body, headers, op_model) -> dict``, ``encode(result, op_model, ctx) ->
(body, content_type, headers)`` and ``encode_error(err, ctx) -> (status, body,
content_type, headers)``. Adding a protocol is one module plus one line.
"""

CODECS: dict[str, str] = {
    "json": "rexwatch.aws.protocols.json",
    "cbor": "rexwatch.aws.protocols.cbor",
    "query": "rexwatch.aws.protocols.query",
    "ec2": "rexwatch.aws.protocols.ec2",
    "rest-json": "rexwatch.aws.protocols.restjson",
}

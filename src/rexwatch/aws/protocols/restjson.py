"""The REST-JSON protocol, for the few operations rexwatch answers in it (CloudWatch Observability
Access Manager's listings). Operations are told apart by their path (``POST /ListSinks``); bodies and
errors are JSON as in the JSON protocol, with the error code in ``x-amzn-ErrorType``."""

from __future__ import annotations

from typing import Any

import orjson

from rexwatch.aws.errors import AwsError
from rexwatch.aws.protocols import json as json_codec


def decode(body: bytes, headers: dict[str, str], op_model: Any) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise AwsError("ValidationException", "request body is not valid JSON")
    if not isinstance(doc, dict):
        raise AwsError("ValidationException", "request body must be a JSON object")
    return doc


def encode(result: dict[str, Any], op_model: Any, ctx: Any) -> tuple[bytes, str, dict[str, str]]:
    body, _, headers = json_codec.encode(result, op_model, ctx)
    return body, "application/json", headers


def encode_error(err: AwsError, ctx: Any) -> tuple[int, bytes, str, dict[str, str]]:
    status, body, _, headers = json_codec.encode_error(err, ctx)
    return status, body, "application/json", headers

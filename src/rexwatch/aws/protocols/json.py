"""AWS JSON 1.0/1.1 (Logs, and CloudWatch's JSON protocol)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import orjson

from rexwatch.aws.errors import AwsError
from rexwatch.aws.protocols import from_epoch


def decode(body: bytes, headers: dict[str, str], op_model: Any) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        params = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise AwsError("SerializationException", f"request body is not valid JSON: {e}")
    if not isinstance(params, dict):
        raise AwsError("SerializationException", "request body must be a JSON object")
    if op_model is not None:
        params = _timestamps_in(params, op_model.input_shape)
    return params


_WALK: dict[tuple, bool] = {}


def _shape_key(shape: Any) -> tuple:
    # botocore builds shape objects on demand, so key by name and structure, not identity.
    t = shape.type_name
    if t == "structure":
        return (shape.name, t, tuple(shape.members))
    if t == "list":
        return (shape.name, t, shape.member.name)
    if t == "map":
        return (shape.name, t, shape.value.name)
    return (shape.name, t)


def _needs_walk(shape: Any, seen: frozenset[tuple] = frozenset()) -> bool:
    """Whether ``shape`` holds a timestamp or blob anywhere (cached): other values pass untouched,
    so a 10,000-event PutLogEvents is not rebuilt dict by dict."""
    key = _shape_key(shape)
    if key in _WALK:
        return _WALK[key]
    if key in seen:
        return False
    t = shape.type_name
    if t in ("timestamp", "blob"):
        out = True
    elif t == "structure":
        out = any(_needs_walk(m, seen | {key}) for m in shape.members.values())
    elif t == "list":
        out = _needs_walk(shape.member, seen | {key})
    elif t == "map":
        out = _needs_walk(shape.value, seen | {key})
    else:
        out = False
    if not seen:
        _WALK[key] = out
    return out


def _timestamps_in(value: Any, shape: Any, path: str = "") -> Any:
    """JSON protocols send timestamps as epoch seconds; hand services datetimes."""
    if shape is None or not _needs_walk(shape):
        return value
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        out = {}
        for k, v in value.items():
            member = shape.members.get(k)
            out[k] = _timestamps_in(v, member, f"{path}.{k}" if path else k) if member is not None else v
        return out
    if t == "list" and isinstance(value, list):
        return [_timestamps_in(v, shape.member, f"{path}[{i}]") for i, v in enumerate(value)]
    if t == "map" and isinstance(value, dict):
        return {k: _timestamps_in(v, shape.value, f"{path}.{k}") for k, v in value.items()}
    if t == "timestamp" and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return from_epoch(value)
        except (ValueError, OverflowError) as e:  # OverflowError: an integer too large for a float
            raise AwsError("SerializationException", f"{path}: {e}")
    if t == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value)
        except ValueError:
            raise AwsError("SerializationException", f"{path} is not valid base64")
    return value


def _default(obj: Any) -> Any:
    if isinstance(obj, dt.datetime):
        return obj.timestamp()
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode()
    raise TypeError(f"cannot serialize {type(obj).__name__}")


def encode(result: dict[str, Any], op_model: Any, ctx: Any) -> tuple[bytes, str, dict[str, str]]:
    version = (op_model.metadata.get("jsonVersion") if op_model is not None else None) or "1.1"
    body = orjson.dumps(result, default=_default, option=orjson.OPT_NON_STR_KEYS)
    return body, f"application/x-amz-json-{version}", {"x-amzn-RequestId": ctx.request_id}


def encode_error(err: AwsError, ctx: Any) -> tuple[int, bytes, str, dict[str, str]]:
    body = orjson.dumps({**err.extra, "__type": err.code, "message": err.message})
    headers = {"x-amzn-RequestId": ctx.request_id, "x-amzn-ErrorType": err.code}
    return err.status, body, "application/x-amz-json-1.1", headers

"""Smithy RPC v2 CBOR (CloudWatch's current protocol in botocore and the AWS CLI).

Requests arrive as ``POST /service/<service>/operation/<Op>`` with header
``smithy-protocol: rpc-v2-cbor`` and a CBOR map body; timestamps are CBOR tag 1
(epoch seconds). Responses mirror that. Errors carry ``__type`` (the modeled
shape id, e.g. ``com.amazonaws.cloudwatch#InvalidParameterValueException``)
and ``message``; services with the awsQueryCompatible trait also send
``x-amzn-query-error: <query code>;Sender|Receiver`` so clients report the
same error codes as over the query protocol.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import cbor2

from rexwatch.aws.errors import AwsError
from rexwatch.aws.protocols import cbor_metricdata, from_epoch

CONTENT_TYPE = "application/cbor"
# Smithy namespaces of the services this door serves over CBOR.
SHAPE_NAMESPACES = {"cloudwatch": "com.amazonaws.cloudwatch"}


def decode(body: bytes, headers: dict[str, str], op_model: Any) -> dict[str, Any]:
    if not body:
        return {}
    try:
        params = cbor2.loads(body)
    except Exception as e:  # cbor2 raises several decoder errors
        raise AwsError("SerializationException", f"request body is not valid CBOR: {e}")
    if not isinstance(params, dict):
        raise AwsError("SerializationException", "request body must be a CBOR map")
    if op_model is not None and op_model.input_shape is not None:
        if op_model.name == "PutMetricData" and op_model.metadata.get("endpointPrefix") == "monitoring":
            # Large batches of metric data: converted and type-checked in one pass when plain.
            fast = cbor_metricdata.read_columns(params)
            if fast is not None:
                return fast
        params = _inbound(params, op_model.input_shape)
    return params


# Per shape: whether its value may need converting: a timestamp or a float, or a structure (its null
# members are dropped) anywhere under it.
_CONVERTS: dict[int, tuple[Any, bool]] = {}


def _converts(shape: Any, depth: int = 0) -> bool:
    hit = _CONVERTS.get(id(shape))
    if hit is not None and hit[0] is shape:
        return hit[1]
    t = shape.type_name
    if depth > 20:  # recursive shapes: assume the worst
        return True
    if t == "structure":
        out = True
    elif t == "list":
        out = _converts(shape.member, depth + 1)
    elif t == "map":
        out = _converts(shape.value, depth + 1)
    else:
        out = t in ("timestamp", "double", "float")
    if len(_CONVERTS) < 10_000:
        _CONVERTS[id(shape)] = (shape, out)
    return out


def _inbound(value: Any, shape: Any) -> Any:
    """Timestamps may arrive as tag 1 (decoded to datetime) or bare numbers; hand services datetimes."""
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        out = {}
        members = shape.members
        for k, v in value.items():
            if v is None:
                continue
            member = members.get(k)
            # Strings, integers and lists of them (most members) are taken as they are.
            out[k] = _inbound(v, member) if member is not None and _converts(member) else v
        return out
    if t == "list" and isinstance(value, list):
        member = shape.member
        return [_inbound(v, member) for v in value] if _converts(member) else value
    if t == "map" and isinstance(value, dict):
        return {k: _inbound(v, shape.value) for k, v in value.items()}
    if t == "timestamp":
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return from_epoch(value)
            except ValueError as e:
                raise AwsError("SerializationException", f"invalid timestamp: {e}")
        raise AwsError("SerializationException", f"expected a timestamp, got {type(value).__name__}")
    if t in ("double", "float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _outbound(value: Any, shape: Any) -> Any:
    if value is None:
        return None
    t = shape.type_name
    if t == "structure":
        out = {}
        for k, v in value.items():
            member = shape.members.get(k)
            if v is None or member is None:
                continue
            out[k] = _outbound(v, member)
        return out
    if t == "list":
        return [_outbound(v, shape.member) for v in value]
    if t == "map":
        return {k: _outbound(v, shape.value) for k, v in value.items()}
    if t == "timestamp":
        if isinstance(value, dt.datetime):
            ts = value.timestamp() if value.tzinfo else value.replace(tzinfo=dt.UTC).timestamp()
        else:
            ts = float(value)
        return cbor2.CBORTag(1, int(ts) if ts == int(ts) else ts)
    if t in ("double", "float"):
        return float(value)
    if t in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def encode(result: dict[str, Any], op_model: Any, ctx: Any) -> tuple[bytes, str, dict[str, str]]:
    shape = op_model.output_shape if op_model is not None else None
    body = _outbound(result, shape) if shape is not None else {}
    headers = {"smithy-protocol": "rpc-v2-cbor", "x-amzn-RequestId": ctx.request_id}
    return cbor2.dumps(body), CONTENT_TYPE, headers


@functools.cache
def _error_shapes(service: str) -> dict[str, str]:
    """AWS error code -> modeled shape name, from the botocore model."""
    from rexwatch.aws.door import service_model

    model = service_model(service)
    out: dict[str, str] = {}
    for shape in model.error_shapes:
        code = shape.metadata.get("error", {}).get("code", shape.name)
        out.setdefault(code, shape.name)
    return out


def _query_compatible(service: str) -> bool:
    from rexwatch.aws.door import service_model

    try:
        return "awsQueryCompatible" in service_model(service).metadata
    except Exception:
        return False


def encode_error(err: AwsError, ctx: Any) -> tuple[int, bytes, str, dict[str, str]]:
    service = ctx.service or ""
    shape_name = None
    if service:
        try:
            shape_name = _error_shapes(service).get(err.code)
        except Exception:
            shape_name = None
    ns = SHAPE_NAMESPACES.get(service)
    type_id = f"{ns}#{shape_name}" if ns and shape_name else err.code
    body = cbor2.dumps({"__type": type_id, "message": str(err.message)})
    headers = {"smithy-protocol": "rpc-v2-cbor", "x-amzn-RequestId": ctx.request_id}
    if service and _query_compatible(service):
        headers["x-amzn-query-error"] = f"{err.code};{'Sender' if err.sender else 'Receiver'}"
    return err.status, body, CONTENT_TYPE, headers

"""AWS query protocol (SNS, and CloudWatch/ELBv2 in their query dialect).

Requests are form-encoded (``Action``, ``Version`` and the parameters
flattened with dots: ``Tags.member.1.Key``, ``Attributes.entry.1.key``);
responses are XML wrapped in ``<{Op}Response><{Op}Result>`` with
``ResponseMetadata``. Both directions are driven by botocore's shapes, the
mirror image of botocore's ``QuerySerializer`` and ``QueryParser``.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from rexwatch.aws.errors import AwsError
from rexwatch.aws.protocols import from_epoch

# Error code for a malformed or missing parameter, per service (endpointPrefix).
_PARAM_ERROR = {"sns": "InvalidParameter", "monitoring": "InvalidParameterValue",
                "elasticloadbalancing": "ValidationError"}
_MISSING_ERROR = {"sns": "InvalidParameter", "monitoring": "MissingParameter",
                  "elasticloadbalancing": "ValidationError"}


class _Form:
    """Flat form parameters with an index of every dotted prefix, for O(1) presence checks."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.values: dict[str, str] = {}
        self.prefixes: set[str] = set()
        for k, v in pairs:
            self.values[k] = v
            parts = k.split(".")
            for i in range(1, len(parts)):
                self.prefixes.add(".".join(parts[:i]))

    def has(self, key: str) -> bool:
        return key in self.values or key in self.prefixes


def decode(body: bytes, headers: dict[str, str], op_model: Any) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise AwsError("MalformedQueryString", "request body is not UTF-8")
    form = _Form(parse_qsl(text, keep_blank_values=True))
    shape = op_model.input_shape if op_model is not None else None
    if shape is None:
        return {}
    svc = op_model.metadata.get("endpointPrefix", "")
    out = _decode_structure(shape, "", form, svc)
    return out


def _name(shape: Any, default: str) -> str:
    return shape.serialization.get("name") or default


def _decode(shape: Any, key: str, form: _Form, svc: str) -> Any:
    t = shape.type_name
    if t == "structure":
        return _decode_structure(shape, key, form, svc)
    if t == "list":
        return _decode_list(shape, key, form, svc)
    if t == "map":
        return _decode_map(shape, key, form, svc)
    return _scalar(shape, key, form.values[key], svc)


def _decode_structure(shape: Any, prefix: str, form: _Form, svc: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for member, mshape in shape.members.items():
        name = _name(mshape, member)
        key = f"{prefix}.{name}" if prefix else name
        if mshape.type_name == "list" and mshape.serialization.get("flattened"):
            # botocore replaces the last segment with the member's name for flattened lists.
            mname = mshape.member.serialization.get("name")
            if mname:
                key = f"{prefix}.{mname}" if prefix else mname
        if form.has(key):
            out[member] = _decode(mshape, key, form, svc)
    missing = [m for m in shape.required_members if m not in out]
    if missing:
        where = f" in {prefix}" if prefix else ""
        raise AwsError(_MISSING_ERROR.get(svc, "MissingParameter"),
                       f"Invalid parameter: {missing[0]}{where} is required")
    return out


def _indices(prefix: str, form: _Form) -> list[int]:
    found = []
    i = 1
    # Members are numbered from 1 without gaps in what SDKs send; stop at the first gap.
    while form.has(f"{prefix}.{i}"):
        found.append(i)
        i += 1
    return found


def _decode_list(shape: Any, key: str, form: _Form, svc: str) -> list[Any]:
    if form.values.get(key) == "":
        return []
    list_prefix = key if shape.serialization.get("flattened") else f"{key}.{_name(shape.member, 'member')}"
    return [_decode(shape.member, f"{list_prefix}.{i}", form, svc) for i in _indices(list_prefix, form)]


def _decode_map(shape: Any, key: str, form: _Form, svc: str) -> dict[str, Any]:
    if form.values.get(key) == "":
        return {}
    base = key if shape.serialization.get("flattened") else f"{key}.entry"
    ksuffix, vsuffix = _name(shape.key, "key"), _name(shape.value, "value")
    out: dict[str, Any] = {}
    for i in _indices(base, form):
        kkey = f"{base}.{i}.{ksuffix}"
        if kkey not in form.values:
            raise AwsError(_PARAM_ERROR.get(svc, "InvalidParameterValue"), f"{kkey} is missing")
        k = _scalar(shape.key, kkey, form.values[kkey], svc)
        vkey = f"{base}.{i}.{vsuffix}"
        out[k] = _decode(shape.value, vkey, form, svc) if form.has(vkey) else None
    return out


def _scalar(shape: Any, key: str, raw: str, svc: str) -> Any:
    t = shape.type_name
    try:
        if t in ("integer", "long"):
            return int(raw)
        if t in ("float", "double"):
            return float(raw)
        if t == "boolean":
            if raw.lower() not in ("true", "false"):
                raise ValueError
            return raw.lower() == "true"
        if t == "timestamp":
            return _parse_time(raw)
        if t == "blob":
            return base64.b64decode(raw, validate=True)
    except (ValueError, TypeError, OverflowError, OSError):
        # OverflowError/OSError: a number too large for a timestamp (1e20).
        raise AwsError(_PARAM_ERROR.get(svc, "InvalidParameterValue"),
                       f"Invalid parameter: {key}: {raw[:100]!r} is not a valid {t}")
    return raw


def _parse_time(raw: str) -> dt.datetime:
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        return from_epoch(value)
    parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# Encoding ------------------------------------------------------------------------------------------


def _namespace(op_model: Any) -> str:
    return op_model.metadata.get("xmlNamespace", "") if op_model is not None else ""


def encode(result: dict[str, Any], op_model: Any, ctx: Any) -> tuple[bytes, str, dict[str, str]]:
    op = op_model.name
    ns = _namespace(op_model)
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{op}Response xmlns="{escape(ns)}">']
    shape = op_model.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper") or f"{op}Result"
        parts.append(f"<{wrapper}>")
        _encode_members(shape, result, parts)
        parts.append(f"</{wrapper}>")
    parts.append(f"<ResponseMetadata><RequestId>{escape(ctx.request_id)}</RequestId></ResponseMetadata>")
    parts.append(f"</{op}Response>")
    return "".join(parts).encode("utf-8"), "text/xml", {"x-amzn-RequestId": ctx.request_id}


def _encode_members(shape: Any, value: dict[str, Any], parts: list[str]) -> None:
    for member, mshape in shape.members.items():
        v = value.get(member)
        if v is None:
            continue
        if mshape.type_name == "list" and mshape.serialization.get("flattened"):
            tag = mshape.member.serialization.get("name") or _name(mshape, member)
            for item in v:
                _encode_value(tag, mshape.member, item, parts)
            continue
        _encode_value(_name(mshape, member), mshape, v, parts)


# Characters XML 1.0 cannot carry at all (not even escaped); replaced so the document stays parseable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", value))


def _encode_value(tag: str, shape: Any, v: Any, parts: list[str]) -> None:
    t = shape.type_name
    if t == "structure":
        parts.append(f"<{tag}>")
        _encode_members(shape, v, parts)
        parts.append(f"</{tag}>")
    elif t == "list":
        mtag = _name(shape.member, "member")
        parts.append(f"<{tag}>")
        for item in v:
            _encode_value(mtag, shape.member, item, parts)
        parts.append(f"</{tag}>")
    elif t == "map":
        ktag, vtag = _name(shape.key, "key"), _name(shape.value, "value")
        flattened = shape.serialization.get("flattened")
        if not flattened:
            parts.append(f"<{tag}>")
        for k, item in v.items():
            parts.append(f"<{tag}>" if flattened else "<entry>")
            _encode_value(ktag, shape.key, k, parts)
            _encode_value(vtag, shape.value, item, parts)
            parts.append(f"</{tag}>" if flattened else "</entry>")
        if not flattened:
            parts.append(f"</{tag}>")
    else:
        parts.append(f"<{tag}>{_text(_scalar_text(t, v))}</{tag}>")


def _scalar_text(t: str, v: Any) -> str:
    if t == "boolean":
        return "true" if v else "false"
    if t == "timestamp":
        if isinstance(v, int | float):
            v = dt.datetime.fromtimestamp(v, dt.UTC)
        if isinstance(v, dt.datetime):
            if v.tzinfo is None:
                v = v.replace(tzinfo=dt.UTC)
            return v.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return str(v)
    if t == "blob":
        return base64.b64encode(v if isinstance(v, bytes) else str(v).encode()).decode()
    if t in ("float", "double") and isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return repr(v)
    return str(v)


def encode_error(err: AwsError, ctx: Any) -> tuple[int, bytes, str, dict[str, str]]:
    ns = ""
    if ctx.service:
        try:
            from rexwatch.aws.door import service_model

            ns = service_model(ctx.service).metadata.get("xmlNamespace", "")
        except Exception:  # an unknown service still gets a well-formed error
            ns = ""
    kind = "Sender" if err.sender else "Receiver"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ErrorResponse xmlns="{escape(ns)}"><Error><Type>{kind}</Type>'
        f"<Code>{_text(err.code)}</Code><Message>{_text(err.message)}</Message></Error>"
        f"<RequestId>{escape(ctx.request_id)}</RequestId></ErrorResponse>"
    )
    return err.status, body.encode("utf-8"), "text/xml", {"x-amzn-RequestId": ctx.request_id}

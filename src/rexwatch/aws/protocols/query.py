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
from urllib.parse import unquote_plus
from xml.sax.saxutils import escape

from rexwatch.aws.errors import AwsError
from rexwatch.aws.protocols import parse_time, query_metricdata

# Error code for a malformed or missing parameter, per service (endpointPrefix).
_PARAM_ERROR = {"sns": "InvalidParameter", "monitoring": "InvalidParameterValue",
                "elasticloadbalancing": "ValidationError"}
_MISSING_ERROR = {"sns": "InvalidParameter", "monitoring": "MissingParameter",
                  "elasticloadbalancing": "ValidationError"}


class _Leaf:
    """Key of a value in a tree node that is also a prefix of longer keys (``A=`` beside ``A.member.1=``)."""


_VALUE = _Leaf()
_Node = dict  # a tree node: dotted segment -> sub-node or value text


def _unquote(text: str) -> str:
    # Most keys and many values hold nothing to unquote: skip the call for them.
    return unquote_plus(text) if ("%" in text or "+" in text) else text


def form_tree(text: str) -> dict:
    """Form parameters as a tree of their dotted segments (``A.member.1.B=x`` ->
    ``{"A": {"member": {"1": {"B": "x"}}}}``), read in one pass as ``parse_qsl`` would
    (``&``-separated, blank values kept, the last of repeated keys wins)."""
    root: dict = {}
    # Values repeat within a request (one timestamp or unit for every item): unquote each once.
    seen: dict[str, str] = {}
    for part in text.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        parts = _unquote(k).split(".")
        if "%" in v or "+" in v:
            u = seen.get(v)
            if u is None:
                u = unquote_plus(v)
                if len(seen) < 4096:  # bounded: a hostile body of distinct values gains nothing
                    seen[v] = u
            v = u
        node = root
        for seg in parts[:-1]:
            nxt = node.get(seg)
            if nxt is None:
                nxt = node[seg] = {}
            elif not isinstance(nxt, dict):
                nxt = node[seg] = {_VALUE: nxt}
            node = nxt
        last = parts[-1]
        cur = node.get(last)
        if isinstance(cur, dict):
            cur[_VALUE] = v
        else:
            node[last] = v
    return root


def decode(body: bytes, headers: dict[str, str], op_model: Any) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise AwsError("MalformedQueryString", "request body is not UTF-8")
    shape = op_model.input_shape if op_model is not None else None
    if shape is None:
        return {}
    svc = op_model.metadata.get("endpointPrefix", "")
    if svc == "monitoring" and op_model.name == "PutMetricData":
        # Large batches of metric data: a reader for this one form, which hands anything it
        # cannot read exactly as below back to the generic walk.
        params = query_metricdata.read_columns(text)
        if params is not None:
            return params
    return _decode_structure(shape, "", form_tree(text), svc)


def _name(shape: Any, default: str) -> str:
    return shape.serialization.get("name") or default


# Per structure shape: (member, its shape, its key segment, its type); botocore computes
# ``serialization`` and ``members`` on access, and a 1,000-item PutMetricData asks 8,000 times.
_PLANS: dict[int, tuple[Any, list[tuple[str, Any, str, str]]]] = {}


def _plan(shape: Any) -> list[tuple[str, Any, str, str]]:
    hit = _PLANS.get(id(shape))
    if hit is not None and hit[0] is shape:
        return hit[1]
    plan = []
    for member, mshape in shape.members.items():
        seg = _name(mshape, member)
        if mshape.type_name == "list" and mshape.serialization.get("flattened"):
            # botocore replaces the last segment with the member's name for flattened lists.
            seg = mshape.member.serialization.get("name") or seg
        plan.append((member, mshape, seg, mshape.type_name))
    if len(_PLANS) < 10_000:  # shapes are few and live as long as their models
        _PLANS[id(shape)] = (shape, plan)
    return plan


def _leaf(node: Any) -> str | None:
    if isinstance(node, dict):
        return node.get(_VALUE)
    return node


def _decode(shape: Any, t: str, key: str, node: Any, svc: str) -> Any:
    if t == "structure":
        return _decode_structure(shape, key, node if isinstance(node, dict) else {}, svc)
    if t == "list":
        return _decode_list(shape, key, node, svc)
    if t == "map":
        return _decode_map(shape, key, node, svc)
    raw = _leaf(node)
    if raw is None:
        raise AwsError(_PARAM_ERROR.get(svc, "InvalidParameterValue"),
                       f"Invalid parameter: {key} must be a value, not a list or structure")
    if t == "string":
        return raw
    return _scalar(shape, key, raw, svc)


def _decode_structure(shape: Any, prefix: str, node: dict, svc: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for member, mshape, seg, t in _plan(shape):
        sub = node.get(seg)
        if sub is not None:
            out[member] = _decode(mshape, t, f"{prefix}.{seg}" if prefix else seg, sub, svc)
    missing = [m for m in shape.required_members if m not in out]
    if missing:
        where = f" in {prefix}" if prefix else ""
        raise AwsError(_MISSING_ERROR.get(svc, "MissingParameter"),
                       f"Invalid parameter: {missing[0]}{where} is required")
    return out


def _items(node: Any) -> list[tuple[str, Any]]:
    """(index text, sub-node) of members numbered 1, 2, ... (SDKs send no gaps; stop at the first)."""
    if not isinstance(node, dict):
        return []
    out = []
    i = 1
    while (sub := node.get(str(i))) is not None:
        out.append((str(i), sub))
        i += 1
    return out


def _decode_list(shape: Any, key: str, node: Any, svc: str) -> list[Any]:
    if _leaf(node) == "" and (not isinstance(node, dict) or len(node) == 1):
        return []
    mshape = shape.member
    if shape.serialization.get("flattened"):
        base, items = key, node
    else:
        seg = _name(mshape, "member")
        base, items = f"{key}.{seg}", node.get(seg) if isinstance(node, dict) else None
    t = mshape.type_name
    return [_decode(mshape, t, f"{base}.{i}", sub, svc) for i, sub in _items(items)]


def _decode_map(shape: Any, key: str, node: Any, svc: str) -> dict[str, Any]:
    if _leaf(node) == "" and (not isinstance(node, dict) or len(node) == 1):
        return {}
    if shape.serialization.get("flattened"):
        base, entries = key, node
    else:
        base, entries = f"{key}.entry", node.get("entry") if isinstance(node, dict) else None
    ksuffix, vsuffix = _name(shape.key, "key"), _name(shape.value, "value")
    out: dict[str, Any] = {}
    for i, entry in _items(entries):
        kkey = f"{base}.{i}.{ksuffix}"
        raw = _leaf(entry.get(ksuffix)) if isinstance(entry, dict) else None
        if raw is None:
            raise AwsError(_PARAM_ERROR.get(svc, "InvalidParameterValue"), f"{kkey} is missing")
        k = _scalar(shape.key, kkey, raw, svc)
        vnode = entry.get(vsuffix)
        out[k] = _decode(shape.value, shape.value.type_name, f"{base}.{i}.{vsuffix}", vnode, svc) \
            if vnode is not None else None
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
            return parse_time(raw)
        if t == "blob":
            return base64.b64decode(raw, validate=True)
    except (ValueError, TypeError, OverflowError, OSError):
        # OverflowError/OSError: a number too large for a timestamp (1e20).
        raise AwsError(_PARAM_ERROR.get(svc, "InvalidParameterValue"),
                       f"Invalid parameter: {key}: {raw[:100]!r} is not a valid {t}")
    return raw



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

"""The EC2 protocol: form-encoded requests like the query protocol, with lists as ``Name.N``; XML
responses with no Result wrapper, a lowercase ``requestId`` and lists of ``<item>``; errors as
``<Response><Errors><Error>``. Only what rexwatch answers needs decoding: scalars and scalar lists.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from rexwatch.aws.errors import AwsError
from rexwatch.aws.protocols import query


def _key(member: str, shape: Any) -> str:
    s = shape.serialization
    if s.get("queryName"):
        return s["queryName"]
    name = s.get("name") or member
    return name[:1].upper() + name[1:]


def decode(body: bytes, headers: dict[str, str], op_model: Any) -> dict[str, Any]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise AwsError("MalformedQueryString", "request body is not UTF-8")
    form: dict[str, str] = dict(pairs[:10_000])
    shape = op_model.input_shape if op_model is not None else None
    out: dict[str, Any] = {}
    if shape is None:
        return out
    for member, mshape in shape.members.items():
        key = _key(member, mshape)
        t = mshape.type_name
        if t == "list" and mshape.member.type_name in ("string", "integer", "long"):
            items = []
            for n in range(1, 1001):
                if f"{key}.{n}" not in form:
                    break
                items.append(form[f"{key}.{n}"])
            if items:
                out[member] = items
        elif t == "boolean" and key in form:
            out[member] = form[key].lower() == "true"
        elif t in ("integer", "long") and key in form:
            try:
                out[member] = int(form[key])
            except ValueError:
                raise AwsError("InvalidParameterValue", f"{key} must be an integer")
        elif t == "string" and key in form:
            out[member] = form[key]
    return out


def encode(result: dict[str, Any], op_model: Any, ctx: Any) -> tuple[bytes, str, dict[str, str]]:
    op = op_model.name
    ns = op_model.metadata.get("xmlNamespace", "")
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{op}Response xmlns="{escape(ns)}">',
             f"<requestId>{escape(ctx.request_id)}</requestId>"]
    if op_model.output_shape is not None:
        # EC2 lists are <name><item>…</item></name>: the member shapes carry "item" as their name.
        query._encode_members(op_model.output_shape, result, parts)
    parts.append(f"</{op}Response>")
    return "".join(parts).encode("utf-8"), "text/xml", {"x-amzn-RequestId": ctx.request_id}


def encode_error(err: AwsError, ctx: Any) -> tuple[int, bytes, str, dict[str, str]]:
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message>"
            f"</Error></Errors><RequestID>{escape(ctx.request_id)}</RequestID></Response>")
    return err.status, body.encode("utf-8"), "text/xml", {"x-amzn-RequestId": ctx.request_id}

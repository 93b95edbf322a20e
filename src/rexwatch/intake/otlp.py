"""OTLP/HTTP as the specification lays it out, shared by the logs, metrics and traces doors.

- Request bodies are binary protobuf (``application/x-protobuf``) or protobuf
  JSON (``application/json``), optionally gzip-compressed; the response uses
  the request's encoding.
- Success is 200 with ``Export*ServiceResponse``; what was refused inside an
  accepted request is reported in ``partial_success`` (the sender must not
  retry it).
- A malformed request is 400 with a ``google.rpc.Status`` body (not retried by
  exporters); 401/413/415 likewise; 429 and 503 carry ``Retry-After`` and are
  retried.
- In OTLP/JSON, trace and span ids are hex strings, not the base64 that
  protobuf's JSON mapping expects; they are converted before parsing.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import orjson
from fastapi import Request
from fastapi.responses import Response
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2

from rexwatch.errors import RexwatchError, Throttled, Unavailable
from rexwatch.intake.common import IntakeError, authenticate, inflate, read_body
from rexwatch.runtime import Runtime

log = logging.getLogger("rexwatch.intake")

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ID_KEYS = frozenset(("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"))
MAX_JSON_DEPTH = 64


def _hex_ids_to_base64(node: Any, depth: int = 0) -> Any:
    if depth > MAX_JSON_DEPTH:
        raise IntakeError(400, f"JSON body nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(node, dict):
        for k, v in node.items():
            if k in _ID_KEYS and isinstance(v, str):
                try:
                    node[k] = base64.b64encode(bytes.fromhex(v)).decode()
                except ValueError:
                    raise IntakeError(400, f"{k} {v[:40]!r} is not a hex string")
            elif isinstance(v, dict | list):
                _hex_ids_to_base64(v, depth + 1)
    elif isinstance(node, list):
        for v in node:
            if isinstance(v, dict | list):
                _hex_ids_to_base64(v, depth + 1)
    return node


def decode(body: bytes, content_type: str, message_cls: type[Message]) -> tuple[Message, str]:
    """Parse an export request; return it with the encoding to answer in."""
    ctype = content_type.split(";")[0].strip().lower()
    msg = message_cls()
    if ctype in (PROTOBUF, "application/protobuf"):
        try:
            msg.ParseFromString(body)
        except DecodeError as e:
            raise IntakeError(400, f"body is not a valid protobuf {message_cls.__name__}: {e}")
        return msg, PROTOBUF
    if ctype == JSON:
        try:
            doc = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError as e:
            raise IntakeError(400, f"body is not valid JSON: {e}")
        if not isinstance(doc, dict):
            raise IntakeError(400, f"body must be a JSON object ({message_cls.__name__})")
        try:
            json_format.ParseDict(_hex_ids_to_base64(doc), msg, ignore_unknown_fields=True)
        except json_format.ParseError as e:
            raise IntakeError(400, f"body is not a valid OTLP/JSON {message_cls.__name__}: {e}")
        return msg, JSON
    raise IntakeError(415, f"Content-Type {content_type!r} is not supported: use {PROTOBUF} or {JSON}")


def encode(msg: Message, encoding: str) -> bytes:
    if encoding == JSON:
        return json_format.MessageToJson(msg, indent=None).encode()
    return msg.SerializeToString()


def status_response(status: int, message: str, encoding: str, retry_after: int | None = None) -> Response:
    st = status_pb2.Status(code=GRPC_CODES.get(status, 2), message=message)
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return Response(encode(st, encoding), status, headers=headers, media_type=encoding)


# HTTP status -> google.rpc.Code, for the Status body.
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 413: 3, 415: 3, 429: 8, 500: 13, 503: 14}


def door(
    runtime: Runtime,
    request_cls: type[Message],
    export: Callable[[Runtime, Any], Message],
) -> Callable[[Request], Awaitable[Response]]:
    """An OTLP/HTTP endpoint: ``export(runtime, request)`` maps a decoded request and returns the response."""

    async def handle(request: Request) -> Response:
        encoding = JSON if request.headers.get("content-type", "").startswith(JSON) else PROTOBUF
        try:
            await authenticate(runtime, request)
            limit = runtime.settings.max_body_bytes
            body = inflate(await read_body(request, limit), request.headers.get("content-encoding", ""), limit)
            msg, encoding = decode(body, request.headers.get("content-type", ""), request_cls)
            out = await anyio.to_thread.run_sync(export, runtime, msg)
            return Response(encode(out, encoding), 200, media_type=encoding)
        except IntakeError as e:
            return status_response(e.status, e.message, encoding, e.retry_after)
        except (Throttled, Unavailable) as e:
            return status_response(429 if isinstance(e, Throttled) else 503, e.message, encoding, 1)
        except RexwatchError as e:
            # A request the services refuse as a whole is the sender's to fix, not to retry.
            return status_response(400 if e.status < 500 else 503, e.message, encoding,
                                   1 if e.status >= 500 else None)
        except Exception:
            rid = request.scope.get("state", {}).get("request_id", "")
            log.exception("OTLP %s failed", request.url.path, extra={"request_id": rid})
            return status_response(500, f"internal error; request id {rid}", encoding)

    return handle

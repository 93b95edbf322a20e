"""What every intake door shares: bounded bodies, decompression, authentication, attribute values."""

from __future__ import annotations

import math
import zlib
from typing import Any

import anyio
from fastapi import Request

from rexwatch.runtime import Runtime
from rexwatch.services.metrics.model import MAX_MAGNITUDE, MIN_MAGNITUDE


class IntakeError(Exception):
    """A request the door refuses; ``status`` is the HTTP status its protocol prescribes."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


async def read_body(request: Request, limit: int | None = None) -> bytes:
    """The request body, refusing (413) past ``limit`` bytes (default: the ``max_body_mb``
    setting, one bound for every door) before reading it all."""
    if limit is None:
        limit = request.app.state.runtime.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise IntakeError(413, f"request body of {declared} bytes exceeds {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise IntakeError(413, f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """Undo ``Content-Encoding`` gzip or deflate with the decompressed size bounded too."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise IntakeError(415, f"Content-Encoding {encoding!r} is not supported (use gzip, deflate or none)")
    d = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as e:
        raise IntakeError(400, f"request body is not valid {encoding}: {e}")
    if len(out) > limit or d.unconsumed_tail:
        raise IntakeError(413, f"decompressed request body exceeds {limit} bytes")
    return out


async def authenticate(runtime: Runtime, request: Request) -> None:
    """An API key as ``Authorization: Bearer <key>`` or ``X-Api-Key: <key>`` when auth is on.

    OTel exporters send whatever ``OTEL_EXPORTER_OTLP_HEADERS`` says and Prometheus
    sends ``authorization`` from its config, so both forms are accepted.
    """
    if runtime.settings.auth_enabled:
        await authenticate_key(runtime, request.headers.get("authorization", ""),
                               request.headers.get("x-api-key", ""), f"{request.method} {request.url.path}")


async def authenticate_key(runtime: Runtime, authorization: str, api_key: str, what: str) -> None:
    """Check the key of a request (its ``authorization`` and ``x-api-key`` headers or gRPC metadata)
    may ingest, and bind its principal; ``what`` names the request in a refusal."""
    if not runtime.settings.auth_enabled:
        return
    token = ""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        token = value.strip()
    token = token or api_key.strip()
    # One message for every failure, so responses never hint at which keys exist.
    # The key lookup reads (and once a minute writes last_used_at to) the control store: off the loop.
    key = await anyio.to_thread.run_sync(runtime.keys.verify_bearer, token) if token else None
    if key is None:
        raise IntakeError(401, "a valid API key is required: send 'Authorization: Bearer <key>'")
    from rexwatch.errors import Forbidden
    from rexwatch.services.access import authorize

    try:
        authorize(key.principal(), "ingest", what)
    except Forbidden as e:
        raise IntakeError(403, e.message)
    from rexwatch.services.access import bind
    from rexwatch.services.teams import TeamService

    # Log groups the intake creates or writes to follow the key's teams like every other door's.
    principal = key.principal()
    if principal.user_id is not None:
        principal = await anyio.to_thread.run_sync(runtime.service(TeamService).with_teams, principal)
    bind(principal)


def any_value(v: Any, depth: int = 0) -> Any:
    """An OTLP ``AnyValue`` as plain JSON-able Python (bytes as hex)."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "int_value":
        return v.int_value
    if kind == "double_value":
        return v.double_value
    if kind == "bytes_value":
        return v.bytes_value.hex()
    if depth >= 16:  # protobuf nests up to 100 levels; what we keep is shallower
        return "…"
    if kind == "array_value":
        return [any_value(x, depth + 1) for x in v.array_value.values]
    return {kv.key: any_value(kv.value, depth + 1) for kv in v.kvlist_value.values}


def attributes(kvs: Any) -> dict[str, Any]:
    """OTLP ``repeated KeyValue`` as a dict (the first of duplicate keys wins, as the spec asks)."""
    out: dict[str, Any] = {}
    for kv in kvs:
        key = kv.key
        if key not in out:
            value = kv.value
            # Most values are strings: a non-empty string_value settles the oneof without WhichOneof.
            out[key] = value.string_value or any_value(value)
    return out


def text(value: Any) -> str:
    """An attribute value as dimension or name text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        import orjson

        return orjson.dumps(value).decode()
    return str(value)


def storable(v: float) -> bool:
    """Whether the metrics store takes the value (CloudWatch's magnitude bounds, no NaN or infinity)."""
    return not (math.isnan(v) or math.isinf(v) or abs(v) > MAX_MAGNITUDE or (v != 0 and abs(v) < MIN_MAGNITUDE))

"""Opaque paging tokens: base64url JSON with a kind tag, checked on the way back in."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from rexwatch.errors import Invalid


def encode(kind: str, **values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"k": kind, **values})).decode().rstrip("=")


def decode(token: str, kind: str, field: str = "nextToken") -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise Invalid(f"{field} is not a token this server issued", field=field)
    if not isinstance(data, dict) or data.get("k") != kind:
        raise Invalid(f"{field} is not a token this server issued for this operation", field=field)
    return data

"""Opaque paging tokens: base64url JSON with a kind tag, checked on the way back in.

Every value a token carries is checked against the fields its kind declares, so a
forged token is a clear InvalidParameterException, never a failure deeper down.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from rexwatch.errors import Invalid

MAX_TOKEN_CHARS = 2048
_INT64 = (-(2**63), 2**63 - 1)
_UINT64 = (0, 2**64 - 1)


def encode(kind: str, **values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"k": kind, **values})).decode().rstrip("=")


def decode(token: object, kind: str, field: str = "nextToken", **schema: Any) -> dict[str, Any]:
    """The token's values. ``schema`` maps each expected key to ``"int64"``, ``"uint64"``, ``"str"``
    or a tuple of allowed values; a token missing one of them or holding another type is refused."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise Invalid(f"{field} is not a token this server issued", field=field)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise Invalid(f"{field} is not a token this server issued", field=field)
    if not isinstance(data, dict) or data.get("k") != kind:
        raise Invalid(f"{field} is not a token this server issued for this operation", field=field)
    for key, want in schema.items():
        v = data.get(key)
        if want in ("int64", "uint64"):
            lo, hi = _INT64 if want == "int64" else _UINT64
            ok = isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi
        elif want == "str":
            ok = isinstance(v, str)
        else:
            ok = v in want
        if not ok:
            raise Invalid(f"{field} is not a token this server issued", field=field)
    return data

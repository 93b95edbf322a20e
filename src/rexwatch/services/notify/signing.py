"""Per-subscription HMAC-SHA256 signatures on webhook bodies.

Receivers verify ``X-Rexwatch-Signature: sha256=<hex>`` as
``hmac_sha256(secret, raw_request_body)``; the body's ``Timestamp`` lets them
refuse old replays and ``MessageId`` lets them drop duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Rexwatch-Signature"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_token() -> str:
    return secrets.token_hex(64)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(sign(secret, body), header or "")


def unsubscribe_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"unsubscribe", hashlib.sha256).hexdigest()[:32]

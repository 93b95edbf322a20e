"""AWS Signature Version 4 verification for requests to the AWS door.

Rebuilds the canonical request from what arrived, derives the signing key
from the secret of the access key rexwatch issued, and compares signatures in
constant time. Reference: the AWS "Signature Version 4 signing process" docs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

MAX_SKEW = dt.timedelta(minutes=15)
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<sh>[^,\s]+),\s*Signature=(?P<sig>[0-9a-f]{64})$"
)


class SigV4Failure(Exception):
    """``kind`` is one of: missing, unknown_key, bad_signature, expired, bad_scope, malformed."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    date: str
    region: str
    service: str


def parse_authorization(header: str) -> tuple[Credential, list[str], str]:
    m = _AUTH_RE.match(header.strip())
    if not m:
        raise SigV4Failure(
            "malformed", "Authorization header is not a well-formed AWS4-HMAC-SHA256 signature"
        )
    parts = m["cred"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SigV4Failure("bad_scope", "Credential should be scoped with a valid terminator: 'aws4_request'")
    return Credential(parts[0], parts[1], parts[2], parts[3]), m["sh"].split(";"), m["sig"]


def _uri_encode_path(path: str) -> str:
    # Non-S3 services encode each segment of the normalized path twice.
    return "/".join(quote(quote(seg, safe="-_.~"), safe="-_.~%") for seg in path.split("/")) or "/"


def canonical_request(
    method: str, path: str, query: str, headers: dict[str, str], signed: list[str], payload_hash: str
) -> str:
    pairs = sorted(
        (quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in parse_qsl(query, keep_blank_values=True)
    )
    cq = "&".join(f"{k}={v}" for k, v in pairs)
    ch = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed)
    return "\n".join([method, _uri_encode_path(path), cq, ch, ";".join(signed), payload_hash])


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


@dataclass(frozen=True)
class PendingSignature:
    """A request whose headers passed every check; only the body-bound signature is left."""

    credential: Credential
    signed: list[str]
    signature: str
    amz_date: str
    secret: str


def check_headers(
    headers: dict[str, str],
    *,
    services: frozenset[str] | set[str],
    secret_for: callable,
    now: dt.datetime | None = None,
) -> PendingSignature:
    """Every check that needs no body: run before a byte of the body is read.

    ``services`` are the signing names the request may be scoped to; the exact one is
    known once the body names the operation (query protocol), see :func:`check_body`.
    """
    auth = headers.get("authorization", "")
    if not auth:
        raise SigV4Failure("missing", "Request is missing Authentication Token")
    cred, signed, signature = parse_authorization(auth)
    if "host" not in signed:
        raise SigV4Failure("malformed", "the host header must be signed")
    if "x-amz-content-sha256" in headers and "x-amz-content-sha256" not in signed:
        # An unsigned hash header could be swapped along with the body.
        raise SigV4Failure("malformed", "the x-amz-content-sha256 header must be signed when it is sent")
    amz_date = headers.get("x-amz-date", "")
    try:
        when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise SigV4Failure(
            "malformed", "X-Amz-Date header is missing or not in the form YYYYMMDD'T'HHMMSS'Z'"
        )
    now = now or dt.datetime.now(dt.UTC)
    if abs(now - when) > MAX_SKEW:
        raise SigV4Failure(
            "expired",
            f"Signature expired: {amz_date} is now earlier than {(now - MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')}"
            if when < now
            else f"Signature not yet current: {amz_date} is still later than "
            f"{(now + MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')}",
        )
    if cred.date != amz_date[:8]:
        raise SigV4Failure("bad_scope", f"Credential should be scoped to a valid date, not {cred.date[:16]!r}")
    if cred.service not in services:
        raise SigV4Failure("bad_scope", f"Credential should be scoped to correct service, not {cred.service[:32]!r}")
    secret = secret_for(cred.access_key_id)
    if secret is None:
        raise SigV4Failure("unknown_key", "The security token included in the request is invalid.")
    return PendingSignature(cred, signed, signature, amz_date, secret)


def payload_hash(headers: dict[str, str], body: bytes) -> str:
    """The hash the canonical request carries: always that of the body that arrived.

    A client may announce it in X-Amz-Content-Sha256; it must then match. ``UNSIGNED-PAYLOAD``
    and the streaming forms exist only for Amazon S3, which rexwatch does not serve, so every
    other service (and this door) requires a signed payload.
    """
    actual = hashlib.sha256(body).hexdigest()
    claimed = headers.get("x-amz-content-sha256")
    if claimed is None or claimed.lower() == actual:
        return actual if claimed is None else claimed
    if claimed == "UNSIGNED-PAYLOAD" or claimed.startswith("STREAMING-"):
        raise SigV4Failure(
            "malformed", f"x-amz-content-sha256 {claimed[:64]!r} is accepted only by Amazon S3: sign the payload"
        )
    raise SigV4Failure(
        "bad_signature", "The provided 'x-amz-content-sha256' header does not match what was computed."
    )


def check_body(
    pending: PendingSignature,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    *,
    expected_service: str,
) -> str:
    """Finish verification over the body; return the access key id."""
    cred = pending.credential
    if cred.service != expected_service:
        raise SigV4Failure(
            "bad_scope", f"Credential should be scoped to correct service: '{expected_service}'"
        )
    creq = canonical_request(method, path, query, headers, pending.signed, payload_hash(headers, body))
    scope = f"{cred.date}/{cred.region}/{cred.service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", pending.amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    expected = hmac.new(
        signing_key(pending.secret, cred.date, cred.region, cred.service), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, pending.signature):
        raise SigV4Failure(
            "bad_signature",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return cred.access_key_id


def verify(
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    *,
    expected_service: str,
    secret_for: callable,
    now: dt.datetime | None = None,
) -> str:
    """Return the access key id of a correctly signed request, or raise SigV4Failure."""
    pending = check_headers(headers, services={expected_service}, secret_for=secret_for, now=now)
    return check_body(pending, method, path, query, headers, body, expected_service=expected_service)

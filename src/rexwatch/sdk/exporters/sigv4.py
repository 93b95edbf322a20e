"""AWS Signature Version 4 for the SDK's requests, on the standard library alone.

Follows AWS's published signing process: canonical request, string to sign,
derived key. The server verifies the same way (tests sign with this and let the
server check), and CloudWatch accepts it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from urllib.parse import quote, urlsplit


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign(method: str, url: str, headers: dict[str, str], body: bytes, *, access_key: str, secret_key: str,
         region: str, service: str, session_token: str | None = None,
         now: dt.datetime | None = None) -> dict[str, str]:
    """Return ``headers`` plus Host, X-Amz-Date, X-Amz-Security-Token and Authorization."""
    parts = urlsplit(url)
    now = now or dt.datetime.now(dt.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    out = dict(headers)
    out["Host"] = parts.netloc
    out["X-Amz-Date"] = amz_date
    if session_token:
        out["X-Amz-Security-Token"] = session_token
    canon = {k.lower(): " ".join(str(v).split()) for k, v in out.items()}
    signed = sorted(canon)
    # Services other than S3 encode each path segment twice.
    path = "/".join(quote(quote(seg, safe="-_.~"), safe="-_.~%") for seg in (parts.path or "/").split("/")) or "/"
    query = "&".join(sorted(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, _, v in
                            (p.partition("=") for p in parts.query.split("&") if p)))
    canonical = "\n".join([
        method.upper(), path, query, "".join(f"{h}:{canon[h]}\n" for h in signed), ";".join(signed),
        hashlib.sha256(body).hexdigest(),
    ])
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(("AWS4" + secret_key).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                            f"SignedHeaders={';'.join(signed)}, Signature={signature}")
    return out

"""HTTP(S) monitors: status, keyword present/absent, JSON path, response time, redirects, TLS expiry."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import orjson

from rexwatch.errors import Invalid
from rexwatch.netpolicy import Refused
from rexwatch.services.monitors.matcher import matches, parse_matcher
from rexwatch.services.monitors.types import CheckResult, Probe, ProbeContext, excerpt

SCHEDULING = "active"
TAKES_KEYWORD = True
# Header values often carry credentials (Authorization, API keys): encrypted at rest, never shown.
SECRET_FIELDS = ("headers",)

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_BODY = 1 << 20  # bytes read for keyword and JSON checks
MAX_REDIRECTS = 10

DEFAULTS: dict[str, Any] = {
    "method": "GET",
    "headers": {},
    "body": None,
    "expected_status": "200-299",
    "keyword": None,
    "keyword_absent": None,
    "json_path": None,
    "json_equals": None,
    "max_response_ms": None,
    "follow_redirects": True,
    "verify_tls": True,
    "tls_expiry_days": 0,
}


def validate(config: dict[str, Any]) -> dict[str, Any]:
    unknown = set(config) - set(DEFAULTS) - {"url"}
    if unknown:
        raise Invalid(f"unknown http monitor setting(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    out = {**DEFAULTS, **{k: v for k, v in config.items() if v is not None}}
    url = out.get("url")
    if not isinstance(url, str) or not url:
        raise Invalid("http monitors need a url", field="url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"url {url!r} must be an absolute http:// or https:// URL", field="url")
    method = str(out["method"]).upper()
    if method not in METHODS:
        raise Invalid(f"method must be one of {', '.join(METHODS)}", field="method")
    out["method"] = method
    if not isinstance(out["headers"], dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in out["headers"].items()
    ):
        raise Invalid("headers must map names to string values", field="headers")
    if out["body"] is not None and not isinstance(out["body"], str):
        raise Invalid("body must be a string", field="body")
    out["expected_status"] = str(out["expected_status"])
    parse_matcher(out["expected_status"], "expected_status")
    for name in ("keyword", "keyword_absent", "json_path"):
        if out[name] is not None and (not isinstance(out[name], str) or not out[name]):
            raise Invalid(f"{name} must be a non-empty string", field=name)
    if out["json_path"] is not None:
        _path_steps(out["json_path"])
    if out["json_equals"] is not None and out["json_path"] is None:
        raise Invalid("json_equals needs json_path", field="json_equals")
    if out["max_response_ms"] is not None:
        try:
            out["max_response_ms"] = float(out["max_response_ms"])
        except (TypeError, ValueError):
            raise Invalid("max_response_ms must be a number", field="max_response_ms")
        if out["max_response_ms"] <= 0:
            raise Invalid("max_response_ms must be positive", field="max_response_ms")
    for name in ("follow_redirects", "verify_tls"):
        if not isinstance(out[name], bool):
            raise Invalid(f"{name} must be true or false", field=name)
    if not isinstance(out["tls_expiry_days"], int) or not 0 <= out["tls_expiry_days"] <= 365:
        raise Invalid("tls_expiry_days must be a whole number of days 0-365 (0: off)", field="tls_expiry_days")
    return out


def describe(config: dict[str, Any]) -> str:
    return f"{config['method']} {config['url']}"


def destinations(config: dict[str, Any]) -> list[tuple[str, str, int]]:
    parts = urlsplit(config["url"])
    return [("url", parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))]


def _path_steps(path: str) -> list[str | int]:
    """``$.a.b[0].c`` -> ["a", "b", 0, "c"]."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[str | int] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ".":
            j = i + 1
            while j < len(text) and text[j] not in ".[":
                j += 1
            if j == i + 1:
                raise Invalid(f"json_path {path!r}: empty name at position {i + 1}", field="json_path")
            steps.append(text[i + 1 : j])
            i = j
        elif ch == "[":
            j = text.find("]", i)
            inner = text[i + 1 : j] if j > 0 else ""
            if j < 0 or not ((inner.isascii() and inner.isdigit()) or (inner[:1] in "'\"" and inner[-1:] == inner[:1])):
                raise Invalid(f"json_path {path!r}: bad index at position {i + 1}", field="json_path")
            steps.append(int(inner) if inner.isascii() and inner.isdigit() else inner[1:-1])
            i = j + 1
        else:
            raise Invalid(f"json_path {path!r} must look like $.a.b[0]", field="json_path")
    return steps


_MISSING = object()


def json_lookup(doc: Any, path: str) -> Any:
    cur = doc
    for step in _path_steps(path):
        if (isinstance(step, int) and isinstance(cur, list) and -len(cur) <= step < len(cur)) or (isinstance(step, str) and isinstance(cur, dict) and step in cur):
            cur = cur[step]
        else:
            return _MISSING
    return cur


def _equal(found: Any, want: Any) -> bool:
    if found == want:
        return True
    # Values from TOML/CLI often arrive as strings: compare text forms too.
    as_text = found if isinstance(found, str) else orjson.dumps(found).decode()
    return as_text == (want if isinstance(want, str) else orjson.dumps(want).decode())


def _cert_days_left(response: httpx.Response) -> float | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return (cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).total_seconds() / 86_400


async def check(ctx: ProbeContext, probe: Probe) -> CheckResult:
    cfg = probe.config
    client = ctx.client if cfg["verify_tls"] else ctx.insecure_client
    started = time.perf_counter()

    def elapsed() -> float:
        return (time.perf_counter() - started) * 1000

    # httpx enforces the timeout on each step (pool, connect, write, read) without cancelling the
    # request from outside; cancelling requests in flight can leave the shared pool's slots taken.
    # The outer guard only catches a server that drips bytes slower than the timeout allows.
    timeout = httpx.Timeout(probe.timeout_s)
    try:
        async with asyncio.timeout(probe.timeout_s * 1.5 + 0.5):
            return await _run(ctx, client, cfg, elapsed, timeout)
    except (TimeoutError, httpx.TimeoutException):
        return CheckResult(False, elapsed(), reason="timeout", error=f"no answer within {probe.timeout_s:g} s")
    except Refused as e:
        return CheckResult(False, elapsed(), reason="refused", error=str(e))
    except httpx.ConnectError as e:
        return CheckResult(False, elapsed(), reason="connect", error=f"connection failed: {e or 'refused'}")
    except (httpx.HTTPError, OSError) as e:
        return CheckResult(False, elapsed(), reason="connect", error=f"{type(e).__name__}: {e}")
    except httpx.InvalidURL as e:  # e.g. a redirect to a host httpx cannot parse
        return CheckResult(False, elapsed(), reason="connect", error=f"invalid URL: {e}")


async def _run(
    ctx: ProbeContext, client: httpx.AsyncClient, cfg: dict[str, Any], elapsed, timeout: httpx.Timeout
) -> CheckResult:
    url = cfg["url"]
    method = cfg["method"]
    body = cfg["body"].encode() if cfg["body"] is not None else None
    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return CheckResult(False, elapsed(), reason="redirect", error=f"redirect to unsupported URL {url}")
        # The client's transport resolves the host, checks every address against the policy and
        # connects to a checked one, at every hop.
        request = client.build_request(method, url, headers=cfg["headers"], content=body, timeout=timeout)
        response = await client.send(request, stream=True)
        try:
            if response.is_redirect and cfg["follow_redirects"]:
                url = urljoin(url, response.headers["location"])
                if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                    method, body = "GET", None
                continue
            days_left = _cert_days_left(response) if parts.scheme == "https" else None
            raw = b""
            if method != "HEAD":
                async for chunk in response.aiter_bytes():
                    raw += chunk
                    if len(raw) >= MAX_BODY:
                        break
        finally:
            await response.aclose()
        return _judge(cfg, response.status_code, raw, elapsed(), days_left)
    return CheckResult(False, elapsed(), reason="redirect", error=f"more than {MAX_REDIRECTS} redirects")


def _judge(cfg: dict[str, Any], code: int, raw: bytes, latency: float, days_left: float | None) -> CheckResult:
    text = raw.decode("utf-8", "replace")

    def fail(reason: str, error: str) -> CheckResult:
        return CheckResult(False, latency, code, reason, error, excerpt(text))

    if not matches(parse_matcher(cfg["expected_status"]), code):
        return fail("status", f"HTTP {code}, expected {cfg['expected_status']}")
    if cfg["keyword"] is not None and cfg["keyword"] not in text:
        return fail("keyword", f"keyword {cfg['keyword']!r} not found in the response")
    if cfg["keyword_absent"] is not None and cfg["keyword_absent"] in text:
        return fail("keyword", f"keyword {cfg['keyword_absent']!r} found in the response")
    if cfg["json_path"] is not None:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return fail("json", "response is not JSON")
        found = json_lookup(doc, cfg["json_path"])
        if found is _MISSING:
            return fail("json", f"{cfg['json_path']} is missing from the response")
        if cfg["json_equals"] is not None and not _equal(found, cfg["json_equals"]):
            return fail("json", f"{cfg['json_path']} is {excerpt(orjson.dumps(found).decode(), 60)}, expected "
                                f"{orjson.dumps(cfg['json_equals']).decode()}")
    if cfg["max_response_ms"] is not None and latency > cfg["max_response_ms"]:
        return fail("slow", f"answered in {latency:.0f} ms, above {cfg['max_response_ms']:g} ms")
    if cfg["tls_expiry_days"] and days_left is not None and days_left < cfg["tls_expiry_days"]:
        return fail("tls", f"TLS certificate expires in {days_left:.1f} days (warning at {cfg['tls_expiry_days']})")
    return CheckResult(True, latency, code)


def target_text(config: dict[str, Any]) -> str:
    return str(config.get("url", ""))

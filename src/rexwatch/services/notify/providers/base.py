"""What every provider implements, and the shared HTTP retry table.

A provider turns one outbox row (an ``Outgoing``) into a request to a
receiver and answers with a ``Delivery``: delivered, or failed and whether a
retry could help. Providers never raise for a receiver's failure, and never
put an endpoint's secret (webhook path, routing key, password) in a reason.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from rexwatch import netpolicy


@dataclass
class Delivery:
    ok: bool
    retryable: bool = False
    reason: str = ""
    status: int | None = None
    # What happened, in words, when it worked ("HTTP 200", "kept in the local mailbox as mail 3").
    detail: str = ""


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits base*2**(n-1) (capped), times 0.5-1.0."""

    max_attempts: int = 8
    base_s: float = 2.0
    cap_s: float = 600.0

    def delay(self, attempt: int) -> float:
        raw = min(self.cap_s, self.base_s * (2 ** max(0, attempt - 1)))
        return raw * random.uniform(0.5, 1.0)


@dataclass
class Outgoing:
    """One delivery to one subscription, as the provider sees it."""

    delivery_id: int
    message_id: str
    kind: str  # Notification | SubscriptionConfirmation
    topic_arn: str
    subscription_arn: str
    protocol: str
    endpoint: str
    subject: str | None
    message: str
    attributes: dict[str, Any]
    published_at: dt.datetime
    attempt: int
    secret: str
    token: str
    sub_attributes: dict[str, str]
    base_url: str
    region: str = "us-east-1"
    alarm: dict[str, Any] | None = None

    @property
    def subscribe_url(self) -> str:
        from urllib.parse import urlencode

        return f"{self.base_url}/sns/confirm?" + urlencode({"TopicArn": self.topic_arn, "Token": self.token})

    @property
    def unsubscribe_url(self) -> str:
        from urllib.parse import urlencode

        from rexwatch.services.notify.signing import unsubscribe_token

        q = {"SubscriptionArn": self.subscription_arn, "Token": unsubscribe_token(self.secret)}
        return f"{self.base_url}/sns/unsubscribe?" + urlencode(q)


MAX_ANSWER_BYTES = 4096


@dataclass
class Answer:
    """What a receiver answered: the status, the start of the body, and whether it came from a public address."""

    status: int
    body: bytes
    public: bool


class HttpPool:
    """HTTP clients by origin, each with a small connection pool.

    httpx scans every connection of a pool on each request, so one pool with
    many connections gets slower per request as it grows; many small pools
    (one per receiver host) keep that cost flat. Overall concurrency is
    bounded by the dispatcher's semaphore.
    """

    def __init__(self, per_origin: int = 8, timeout: float = 10.0,
                 policy: netpolicy.AddressPolicy | None = None) -> None:
        self.per_origin = per_origin
        self.timeout = timeout
        # Every connection resolves once, is checked against the address policy, and goes to that address.
        self.policy = policy or netpolicy.AddressPolicy()
        self._clients: dict[tuple[str, str, int | None], tuple[httpx.AsyncClient, asyncio.Semaphore]] = {}

    def _client(self, url: str) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        u = httpx.URL(url)
        key = (u.scheme, u.host, u.port)
        entry = self._clients.get(key)
        if entry is None:
            limits = httpx.Limits(max_connections=self.per_origin, max_keepalive_connections=self.per_origin)
            client = netpolicy.guarded_client(self.policy, limits=limits, timeout=self.timeout,
                                              follow_redirects=False)
            # Requests wait here rather than in httpx's pool queue, which is scanned on every request.
            entry = (client, asyncio.Semaphore(self.per_origin))
            self._clients[key] = entry
        return entry

    async def post(self, url: str, *, deadline: float | None = None, **kw: Any) -> Answer:
        """POST; ``deadline`` bounds the request itself (time waiting for a free connection is not counted).

        At most ``MAX_ANSWER_BYTES`` of the answer are read: a receiver cannot make a delivery costly.
        """
        client, gate = self._client(url)
        async with gate:
            if deadline is None:
                return await self._send(client, url, kw)
            async with asyncio.timeout(deadline):  # no extra task per request, unlike wait_for
                return await self._send(client, url, kw)

    @staticmethod
    async def _send(client: httpx.AsyncClient, url: str, kw: dict[str, Any]) -> Answer:
        resp = await client.send(client.build_request("POST", url, **kw), stream=True)
        try:
            body = b""
            async for chunk in resp.aiter_raw():
                body += chunk
                if len(body) >= MAX_ANSWER_BYTES:
                    break
            return Answer(resp.status_code, body[:MAX_ANSWER_BYTES], netpolicy.peer_is_public(resp))
        finally:
            await resp.aclose()

    async def aclose(self) -> None:
        entries, self._clients = list(self._clients.values()), {}
        for client, _ in entries:
            await client.aclose()

    async def __aenter__(self) -> HttpPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@dataclass
class SendContext:
    http: HttpPool
    settings: Any
    timeout: float
    extra: dict[str, Any] = field(default_factory=dict)


class Provider:
    """Base class. Subclasses set ``protocols`` and implement ``validate``, ``redact`` and ``send``.

    ``validate`` checks the form of an endpoint; ``destinations`` names the
    hosts it will connect to, which the service checks against the outbound
    address policy when subscribing.
    """

    protocols: ClassVar[tuple[str, ...]] = ()
    transport: ClassVar[str] = "http"  # http | smtp (which conformance receiver applies)
    needs_confirmation: ClassVar[bool] = False
    retry: ClassVar[RetryPolicy] = RetryPolicy()

    def validate(self, protocol: str, endpoint: str, attributes: dict[str, str]) -> str:
        """Check the endpoint (and provider attributes); return it normalised or raise Invalid."""
        raise NotImplementedError

    def redact(self, endpoint: str) -> str:
        return redact_url(endpoint)

    def destinations(self, endpoint: str, attributes: dict[str, str]) -> list[tuple[str, str]]:
        """(field, URL) pairs this subscription will connect to; the service checks each one."""
        return [("Endpoint", endpoint)]

    def secrets(self, msg: Outgoing) -> list[str]:
        """Strings that must never appear in a reason or a log line."""
        return [msg.endpoint, msg.secret, *url_secrets(msg.endpoint)]

    async def send(self, msg: Outgoing, ctx: SendContext) -> Delivery:
        raise NotImplementedError

    @classmethod
    def receiver_endpoint(cls, url: str) -> tuple[str, str, dict[str, str]]:
        """(protocol, endpoint, attributes) delivering to a local HTTP receiver at ``url`` (tests, demos)."""
        return cls.protocols[0], url, {}


class ChatWebhookProvider(Provider):
    """A chat service's incoming webhook: an HTTP(S) URL that takes one JSON payload.

    Subclasses set ``protocols`` and implement ``payload``; the endpoint check,
    retry policy and sending are shared.
    """

    retry = RetryPolicy(max_attempts=6, base_s=2.0, cap_s=300.0)

    def validate(self, protocol: str, endpoint: str, attributes: dict[str, str]) -> str:
        return check_http_url(endpoint)

    def payload(self, msg: Outgoing) -> dict[str, Any]:
        raise NotImplementedError

    async def send(self, msg: Outgoing, ctx: SendContext) -> Delivery:
        return await post(ctx, msg.endpoint, json=self.payload(msg), secrets=self.secrets(msg))


_URL = re.compile(r"^(https?)://([^/?#]+)(.*)$", re.I)


def redact_url(url: str) -> str:
    """Keep scheme and host; mask user info, path tokens and the query (they often hold secrets)."""
    m = _URL.match(url)
    if not m:
        return "****"
    host = m.group(2).rsplit("@", 1)[-1]
    rest = m.group(3)
    return f"{m.group(1)}://{host}" + ("/****" if rest not in ("", "/") else rest)


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that may carry a credential: user info, path, its longer segments, the query."""
    m = _URL.match(url)
    if not m:
        return []
    out = []
    netloc, rest = m.group(2), m.group(3)
    if "@" in netloc:
        out.append(netloc.rsplit("@", 1)[0])
    path, _, query = rest.partition("?")
    if len(path) > 1:
        out.append(path)
        out += [seg for seg in path.split("/") if len(seg) >= 6]
    if query:
        out.append(query)
        out += [kv.partition("=")[2] for kv in query.split("&") if len(kv.partition("=")[2]) >= 6]
    # Longest first, so a whole path is masked before its pieces.
    return sorted(set(out), key=len, reverse=True)


def check_http_url(url: str, field: str = "Endpoint") -> str:
    from rexwatch.errors import Invalid

    u = url.strip()
    try:
        parsed = httpx.URL(u)
    except (httpx.InvalidURL, TypeError):
        raise Invalid(f"Invalid parameter: {field}: not a valid URL", field=field)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Invalid(f"Invalid parameter: {field}: must be an http:// or https:// URL", field=field)
    return u


# status -> retryable? 2xx delivered; 408, 425, 429 and 5xx are worth retrying; other 4xx are not.
RETRYABLE_STATUS = frozenset({408, 425, 429})


def classify_status(status: int) -> Delivery:
    if 200 <= status < 300:
        return Delivery(True, status=status, detail=f"HTTP {status}")
    retry = status in RETRYABLE_STATUS or status >= 500
    return Delivery(False, retry, f"HTTP {status}", status)


async def post(ctx: SendContext, url: str, *, secrets: list[str], **kw: Any) -> Delivery:
    """POST with a hard deadline; failures become Deliveries with secrets scrubbed from the reason."""
    try:
        resp = await ctx.http.post(url, deadline=ctx.timeout + 1.0, timeout=ctx.timeout, **kw)
    except (TimeoutError, httpx.TimeoutException):
        return Delivery(False, True, f"timed out after {ctx.timeout:g}s")
    except netpolicy.Refused as e:
        # Nothing was sent. The setting may change, so this is not retried on its own: replay after.
        return Delivery(False, False, f"refused by the address policy: {e}")
    except httpx.HTTPError as e:
        return Delivery(False, True, scrub(f"{type(e).__name__}: {e}", secrets))
    d = classify_status(resp.status)
    if not d.ok:
        d.reason = scrub(f"{d.reason}{error_excerpt(resp)}", secrets)
    return d


# A receiver's error text helps (Slack answers "invalid_token"), but a page of an internal server must
# never be shown back: only a short, single-line excerpt, and only from a public address.
ERROR_EXCERPT_CHARS = 80


def error_excerpt(resp: Answer) -> str:
    if not resp.public:
        return ""
    text = " ".join(resp.body.decode("utf-8", "replace").split())
    text = "".join(ch for ch in text if ch.isprintable())
    if not text:
        return ""
    return ": " + (text if len(text) <= ERROR_EXCERPT_CHARS else text[:ERROR_EXCERPT_CHARS] + "…")


def scrub(text: str, secrets: list[str]) -> str:
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "****")
    return text

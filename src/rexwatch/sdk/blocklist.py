"""Answer 403 to blocked IPs inside the application (ASGI middleware; stdlib and httpx only).

``BlocklistCache`` keeps the server's blocklist (its JSON feed,
``/api/v1/blocklist/export?format=json``) in memory and refreshes it by polling
on a daemon thread. When the server cannot be reached the cache keeps what it
had, so the app goes on enforcing (entries still lift at their own expiry);
it never blocks or fails a request because rexwatch is down.

``BlocklistMiddleware`` wraps an ASGI app (FastAPI, Starlette, ...). The client
address is the connection's peer, unless that peer is one of
``trusted_proxies``: then ``X-Forwarded-For`` is read from right to left,
skipping trusted proxies, and the first other address is the client. A header
from any other peer is ignored, so a client cannot unblock itself by sending
one.

    cache = BlocklistCache("http://rexwatch:9099", api_key="...")
    cache.start()
    app.add_middleware(BlocklistMiddleware, cache=cache, trusted_proxies=["10.0.0.0/8"])
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import httpx

log = logging.getLogger("rexwatch.sdk.blocklist")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
MAX_ENTRIES = 1_000_000


class BlocklistCache:
    """The blocklist as networks with their expiry, refreshed by ``refresh()`` or a polling thread."""

    def __init__(
        self,
        endpoint: str,
        *,
        api_key: str | None = None,
        refresh_s: float = 15.0,
        timeout_s: float = 2.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=endpoint.rstrip("/"), headers=headers, timeout=timeout_s,
                                  transport=transport)
        self.refresh_s = refresh_s
        self.clock = clock
        self._entries: list[tuple[Network, float | None]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refreshed_at: float | None = None
        self.last_error: str | None = None

    def refresh(self) -> bool:
        """Fetch the feed once; on any failure keep the cached entries. True when it succeeded."""
        try:
            r = self._http.get("/api/v1/blocklist/export", params={"format": "json"})
            r.raise_for_status()
            doc = r.json()
            entries: list[tuple[Network, float | None]] = []
            for e in doc.get("entries", [])[:MAX_ENTRIES]:
                exp = e.get("expires_at")
                entries.append((ipaddress.ip_network(str(e["cidr"])), float(exp) if exp is not None else None))
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as e:
            self.last_error = f"{type(e).__name__}: {e}"[:300]
            log.debug("blocklist refresh failed; keeping %d cached entries: %s", len(self._entries), e)
            return False
        with self._lock:
            self._entries = entries
        self.refreshed_at, self.last_error = self.clock(), None
        return True

    def blocked(self, ip: str) -> bool:
        """Whether ``ip`` is on the cached blocklist (an unparsable address is not blocked)."""
        try:
            addr = ipaddress.ip_address(ip.strip())
        except ValueError:
            return False
        now = self.clock()
        with self._lock:
            entries = self._entries
        return any(addr in net and (exp is None or exp > now) for net, exp in entries)

    def start(self) -> BlocklistCache:
        """Refresh now (without waiting on a down server for long) and then every ``refresh_s``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="rexwatch-blocklist", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.refresh_s)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._http.close()


def _networks(items: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(i.strip(), strict=False) for i in items]


def client_ip(scope: Scope, trusted: list[Network]) -> str | None:
    """The client address of a request, trusting X-Forwarded-For only from ``trusted`` peers."""
    client = scope.get("client")
    peer = client[0] if client else None
    if peer is None or not _in(peer, trusted):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers") or ():
        if name.lower() == b"x-forwarded-for":
            forwarded += [p.strip() for p in value.decode("latin-1").split(",") if p.strip()]
    for hop in reversed(forwarded):
        if not _in(hop, trusted):
            return hop
    return peer


def _in(ip: str, nets: list[Network]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in n for n in nets)


class BlocklistMiddleware:
    """ASGI middleware answering ``status`` (403) to requests from blocked addresses."""

    def __init__(self, app: ASGIApp, *, cache: BlocklistCache, trusted_proxies: Iterable[str] = (),
                 status: int = 403, body: bytes = b"Forbidden\n") -> None:
        self.app = app
        self.cache = cache
        self.trusted = _networks(trusted_proxies)
        self.status = status
        self.body = body

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope.get("type") in ("http", "websocket"):
            ip = client_ip(scope, self.trusted)
            if ip is not None and self.cache.blocked(ip):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await send({"type": "http.response.start", "status": self.status,
                            "headers": [(b"content-type", b"text/plain"),
                                        (b"content-length", str(len(self.body)).encode())]})
                await send({"type": "http.response.body", "body": self.body})
                return
        await self.app(scope, receive, send)

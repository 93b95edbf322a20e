"""The SDK's blocklist middleware in a real FastAPI app against a live rexwatch server."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from rexwatch.sdk.blocklist import BlocklistCache, BlocklistMiddleware
from rexwatch.testing import LiveServer


def make_app(cache: BlocklistCache) -> FastAPI:
    app = FastAPI()

    @app.get("/login")
    def login() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(BlocklistMiddleware, cache=cache, trusted_proxies=["10.0.0.0/8"])
    return app


def get(app: FastAPI, peer: str, forwarded: str | None = None) -> int:
    async def go() -> int:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as c:
            headers = {"X-Forwarded-For": forwarded} if forwarded else {}
            return (await c.get("/login", headers=headers)).status_code

    return asyncio.run(go())


def test_blocked_ip_gets_403_others_pass_and_cache_survives_server_down(runtime):
    server = LiveServer(runtime, run_workers=False).start()
    api = httpx.Client(base_url=server.url + "/api/v1")
    assert api.post("/blocklist", json={"ip": "203.0.113.7", "ttl": "1h", "reason": "test"}).status_code == 201
    cache = BlocklistCache(server.url, refresh_s=3600)
    try:
        assert cache.refresh() is True
        app = make_app(cache)
        assert get(app, "203.0.113.7") == 403
        assert get(app, "198.51.100.2") == 200
        # Behind a trusted proxy the forwarded client counts; a spoofed header from elsewhere does not.
        assert get(app, "10.0.0.5", "203.0.113.7") == 403
        assert get(app, "10.0.0.5", "203.0.113.7, 10.0.0.9") == 403
        assert get(app, "10.0.0.5", "198.51.100.2") == 200
        assert get(app, "198.51.100.2", "203.0.113.7") == 200
        assert get(app, "203.0.113.7", "198.51.100.2") == 403

        # The server goes away: refreshes fail, the app keeps enforcing from its cache.
        server.stop()
        assert cache.refresh() is False and cache.last_error
        assert get(app, "203.0.113.7") == 403
        assert get(app, "198.51.100.2") == 200
    finally:
        cache.close()
        server.stop()


def test_entries_lift_at_their_expiry_without_the_server(runtime):
    now = [1000.0]
    server = LiveServer(runtime, run_workers=False).start()
    try:
        api = httpx.Client(base_url=server.url + "/api/v1")
        assert api.post("/blocklist", json={"ip": "192.0.2.0/24", "ttl": 120}).status_code == 201
        cache = BlocklistCache(server.url, refresh_s=3600)
        assert cache.refresh()
    finally:
        server.stop()
    import time

    now[0] = time.time()
    cache.clock = lambda: now[0]
    assert cache.blocked("192.0.2.44") and not cache.blocked("192.0.3.1") and not cache.blocked("not-an-ip")
    now[0] += 121
    assert not cache.blocked("192.0.2.44")
    cache.close()

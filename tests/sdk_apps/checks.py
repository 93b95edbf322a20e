"""Health endpoints shared by the test apps: the real one, and one per dependency pointed at a closed port."""

from __future__ import annotations

import os

import redis

from rexwatch.sdk.health import Health, psycopg_check, redis_check

PG = os.environ.get("APP_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("APP_REDIS_URL", "redis://127.0.0.1:6379/0")
CLOSED = int(os.environ.get("APP_CLOSED_PORT", "9"))


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


HEALTHS = {
    "/health": Health({"database": psycopg_check(PG), "redis": redis_check(_redis(REDIS))}, version="1.4.2"),
    "/health/db-down": Health({"database": psycopg_check(f"postgresql://postgres@127.0.0.1:{CLOSED}/test"),
                               "redis": redis_check(_redis(REDIS))}, version="1.4.2"),
    "/health/redis-down": Health({"database": psycopg_check(PG),
                                  "redis": redis_check(_redis(f"redis://127.0.0.1:{CLOSED}/0"))}, version="1.4.2"),
}


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

"""Redis under AWS/ElastiCache (CacheClusterId), and its SLOWLOG as a log group.

CacheHits, CacheMisses and Evictions are the rise of INFO's keyspace_hits, keyspace_misses and
evicted_keys over the interval (ElastiCache reports them as per-period counts). EngineCPUUtilization
is the Redis process's CPU seconds (used_cpu_sys + used_cpu_user) per wall second, in percent.
"""

from __future__ import annotations

import json
import logging

import redis

from rexwatch.agent.collectors.base import Deltas, as_dims
from rexwatch.agent.config import AgentConfig
from rexwatch.agent.model import Collected, LogLine, Point

log = logging.getLogger(__name__)


class RedisCollector:
    name = "redis"

    def __init__(self, cfg: AgentConfig) -> None:
        assert cfg.redis is not None
        self.cfg = cfg.redis
        self.client = redis.Redis.from_url(self.cfg.url, socket_timeout=5, socket_connect_timeout=5)
        self.deltas = Deltas()
        self.dims = as_dims({"CacheClusterId": self.cfg.cluster})
        self.group = f"/aws/elasticache/{self.cfg.cluster}/slowlog"
        self.last_slow_id: int | None = None

    def _p(self, name: str, value: float, unit: str) -> Point:
        return Point("AWS/ElastiCache", name, float(value), unit, self.dims)

    def collect(self, now: float) -> Collected:
        try:
            info = self.client.info()
        except redis.RedisError as e:
            log.warning("redis collector: %s", e)
            return Collected()
        pts = [
            self._p("CurrConnections", info.get("connected_clients", 0), "Count"),
            self._p("BytesUsedForCache", info.get("used_memory", 0), "Bytes"),
            self._p("CurrItems", sum(v.get("keys", 0) for k, v in info.items()
                                     if k.startswith("db") and isinstance(v, dict)), "Count"),
        ]
        for name, key in (("CacheHits", "keyspace_hits"), ("CacheMisses", "keyspace_misses"),
                          ("Evictions", "evicted_keys")):
            d = self.deltas.delta(key, float(info.get(key, 0)), now)
            if d is not None:
                pts.append(self._p(name, d[0], "Count"))
        cpu = float(info.get("used_cpu_sys", 0)) + float(info.get("used_cpu_user", 0))
        if (d := self.deltas.delta("cpu", cpu, now)) is not None:
            pts.append(self._p("EngineCPUUtilization", 100.0 * d[0] / d[1], "Percent"))
        if info.get("role") == "slave" and "master_last_io_seconds_ago" in info:
            pts.append(self._p("ReplicationLag", info["master_last_io_seconds_ago"], "Seconds"))
        lines = self._slowlog() if self.cfg.slowlog else []
        return Collected(points=pts, lines=lines)

    def _slowlog(self) -> list[LogLine]:
        try:
            entries = self.client.slowlog_get(128)
        except redis.RedisError as e:
            log.warning("redis slowlog: %s", e)
            return []
        newest = max((e["id"] for e in entries), default=None)
        if self.last_slow_id is None:
            # The first poll only sets the watermark: entries from before the agent started were
            # either shipped by a previous run or are history the operator did not ask for.
            self.last_slow_id = -1 if newest is None else newest
            return []
        out = []
        for e in sorted(entries, key=lambda e: e["id"]):
            if e["id"] <= self.last_slow_id:
                continue
            command = e["command"].decode("utf-8", "replace") if isinstance(e["command"], bytes) else str(
                e["command"])
            msg = {"id": e["id"], "duration_us": e["duration"], "command": command,
                   "client": (e.get("client_address") or b"").decode("utf-8", "replace")
                   if isinstance(e.get("client_address"), bytes) else e.get("client_address")}
            out.append(LogLine(self.group, self.cfg.cluster, int(e["start_time"]) * 1000, json.dumps(msg)))
        if newest is not None:
            self.last_slow_id = max(self.last_slow_id, newest)
        return out

    def close(self) -> None:
        self.client.close()

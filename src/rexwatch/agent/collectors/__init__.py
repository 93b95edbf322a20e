"""Collectors, one module each, registered in ONE table.

``COLLECTORS`` maps a config section to the collector class; a collector is built when its section
is present (``host`` is on unless disabled). Adding a collector (nginx, another database) is one
module with a class that has ``name``, ``collect(now)`` and ``close()``, plus one row here.
"""

from __future__ import annotations

import importlib

from rexwatch.agent.collectors.base import Collector
from rexwatch.agent.config import AgentConfig

COLLECTORS: dict[str, str] = {
    "host": "rexwatch.agent.collectors.host.HostCollector",
    "postgres": "rexwatch.agent.collectors.postgres.PostgresCollector",
    "redis": "rexwatch.agent.collectors.redis.RedisCollector",
    "audit": "rexwatch.agent.collectors.audit.AuditCollector",
}


def enabled(cfg: AgentConfig) -> list[str]:
    out = []
    if cfg.host.enabled:
        out.append("host")
    if cfg.postgres is not None:
        out.append("postgres")
    if cfg.redis is not None:
        out.append("redis")
    if cfg.audit is not None:
        out.append("audit")
    return out


def build(cfg: AgentConfig) -> list[Collector]:
    out: list[Collector] = []
    for name in enabled(cfg):
        module, _, cls = COLLECTORS[name].rpartition(".")
        out.append(getattr(importlib.import_module(module), cls)(cfg))
    return out

"""The agent's TOML configuration, read into typed sections with errors that name the bad key."""

from __future__ import annotations

import os
import socket
import tomllib
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    pass


@dataclass
class ServerConfig:
    endpoint: str = "http://127.0.0.1:9099"
    api_key: str = ""
    timeout_s: float = 10.0


@dataclass
class HostConfig:
    enabled: bool = True
    # AWS/EC2 InstanceId; the host name when unset.
    instance_id: str = ""
    # AWS/ECS ClusterName and ServiceName; ECS metrics are published only when service is set.
    cluster: str = ""
    service: str = ""
    disks: list[str] = field(default_factory=lambda: ["/"])


@dataclass
class PostgresConfig:
    dsn: str = ""
    # AWS/RDS DBInstanceIdentifier.
    instance: str = ""


@dataclass
class RedisConfig:
    url: str = ""
    # AWS/ElastiCache CacheClusterId.
    cluster: str = ""
    # Poll SLOWLOG into /aws/elasticache/<cluster>/slowlog.
    slowlog: bool = True


@dataclass
class AuditConfig:
    dsn: str = ""
    # The application's audit table (schema.table allowed) and its columns.
    table: str = "audit_logs"
    id_column: str = "id"
    time_column: str = "created_at"
    group: str = "/utm/audit"
    # Stream name; {host} is replaced.
    stream: str = "{host}/audit"
    # Where a table seen for the first time starts: "end" (only new rows) or "start".
    from_: str = "end"
    batch: int = 1000


@dataclass
class FileConfig:
    path: str = ""
    group: str = ""
    # Stream name; {host} and {file} (the file's base name) are replaced.
    stream: str = "{host}/{file}"
    # text: one event per line (or per start_pattern record); json: parse timestamp_field;
    # postgres: PostgreSQL's stderr log, slow statements parsed into duration_ms and statement.
    format: str = "text"
    start_pattern: str = ""
    timestamp_field: str = ""
    # Where a file seen for the first time starts: "end" (only new lines) or "start".
    from_: str = "end"


@dataclass
class AgentConfig:
    name: str = field(default_factory=socket.gethostname)
    interval_s: float = 60.0
    files_interval_s: float = 1.0
    state_dir: str = ""
    buffer_max_mb: float = 64.0
    server: ServerConfig = field(default_factory=ServerConfig)
    host: HostConfig = field(default_factory=HostConfig)
    postgres: PostgresConfig | None = None
    redis: RedisConfig | None = None
    audit: AuditConfig | None = None
    files: list[FileConfig] = field(default_factory=list)

    @property
    def state_path(self) -> Path:
        if self.state_dir:
            return Path(os.path.expanduser(self.state_dir))
        base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
        return Path(base) / "rexwatch-agent"


_NESTED = {"server", "host", "postgres", "redis", "audit", "files"}


def _section(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{where}] must be a table")
    known = {f.name.rstrip("_"): f for f in fields(cls)}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        f = known.get(key)
        if f is None:
            raise ConfigError(f"[{where}] has an unknown key {key!r}; known: {', '.join(sorted(known))}")
        if f.default is not MISSING:
            default = f.default
        else:
            default = f.default_factory() if f.default_factory is not MISSING else None
        expected = type(default) if default is not None and f.name not in _NESTED else None
        if f.name in _NESTED:
            raise ConfigError(f"[{where}] {key} is a section of its own: write [{key}]")
        if expected in (int, float) and isinstance(value, int | float) and not isinstance(value, bool):
            value = float(value) if expected is float else value
        elif expected is not None and not isinstance(value, expected):
            raise ConfigError(f"[{where}] {key} must be {expected.__name__}, not {type(value).__name__}")
        out[f.name] = value
    return cls(**out)


def parse(text: str, *, source: str = "config") -> AgentConfig:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: {e}")
    sections = {"server", "host", "postgres", "redis", "audit", "files", "agent"}
    for key in raw:
        if key not in sections:
            raise ConfigError(f"{source}: unknown section [{key}]; known: {', '.join(sorted(sections))}")
    cfg = _section(AgentConfig, {k: v for k, v in raw.get("agent", {}).items()}, "agent")
    cfg.server = _section(ServerConfig, raw.get("server", {}), "server")
    cfg.host = _section(HostConfig, raw.get("host", {}), "host")
    if "postgres" in raw:
        cfg.postgres = _section(PostgresConfig, raw["postgres"], "postgres")
        if not cfg.postgres.dsn or not cfg.postgres.instance:
            raise ConfigError("[postgres] needs dsn and instance (the DBInstanceIdentifier to publish under)")
    if "redis" in raw:
        cfg.redis = _section(RedisConfig, raw["redis"], "redis")
        if not cfg.redis.url or not cfg.redis.cluster:
            raise ConfigError("[redis] needs url and cluster (the CacheClusterId to publish under)")
    if "audit" in raw:
        from rexwatch.agent.collectors.audit import valid_identifier

        cfg.audit = a = _section(AuditConfig, raw["audit"], "audit")
        if not a.dsn or not a.group:
            raise ConfigError("[audit] needs dsn and group (the log group audit events go to)")
        for key in ("table", "id_column", "time_column"):
            if not valid_identifier(getattr(a, key)):
                raise ConfigError(f"[audit] {key} must be a plain SQL identifier")
        if a.from_ not in ("end", "start") or not 1 <= a.batch <= 10_000:
            raise ConfigError("[audit] from must be 'end' or 'start' and batch 1-10000")
    files = raw.get("files", [])
    if not isinstance(files, list):
        raise ConfigError("[[files]] must be an array of tables")
    for i, f in enumerate(files):
        fc = _section(FileConfig, f, f"files.{i}")
        if not fc.path or not fc.group:
            raise ConfigError(f"[[files]] entry {i} needs path and group")
        if fc.format not in ("text", "json", "postgres"):
            raise ConfigError(f"[[files]] entry {i}: format must be text, json or postgres")
        if fc.from_ not in ("end", "start"):
            raise ConfigError(f"[[files]] entry {i}: from must be 'end' or 'start'")
        cfg.files.append(fc)
    if cfg.interval_s < 1 or cfg.files_interval_s < 0.05:
        raise ConfigError("[agent] interval_s must be >= 1 and files_interval_s >= 0.05")
    if not cfg.server.api_key:
        cfg.server.api_key = os.environ.get("REXWATCH_API_KEY", "")
    return cfg


def load(path: str | Path) -> AgentConfig:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read {p}: {e.strerror}")
    return parse(text, source=str(p))

"""The SDK's settings: arguments to ``configure()`` or ``REXWATCH_*`` environment variables.

Arguments win over the environment, so code can pin what operators must not change
and leave the rest (endpoint, key, sample rates) to the deployment.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field, fields
from typing import Any


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number")


def parse_sample_rules(text: str) -> dict[str, float]:
    """``"/api/v1/health=0.01,/metrics=0.1"`` → ``{route: rate}``; a rate is between 0 and 1."""
    rules: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        route, sep, rate = part.rpartition("=")
        if not sep or not route:
            raise ValueError(f"sample rule {part!r} is not ROUTE=RATE")
        try:
            value = float(rate)
        except ValueError:
            raise ValueError(f"sample rule {part!r}: {rate!r} is not a number")
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"sample rule {part!r}: the rate must be between 0 and 1")
        rules[route] = value
    return rules


@dataclass
class Config:
    service: str = "app"
    # None: the exporter's default (rexwatch on 127.0.0.1:9099; AWS_ENDPOINT_URL or AWS itself).
    endpoint: str | None = None
    exporter: str = "rexwatch"
    api_key: str | None = None
    # AWS exporter: SigV4 credentials and region (AWS_* variables as the AWS SDKs read them).
    region: str = "us-east-1"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    # Where logs and metrics go; see docs/sdk.md for the naming convention.
    log_group: str | None = None
    log_stream: str | None = None
    # Where rexwatch.sdk.audit() sends audit events (default /app/<service>/audit).
    audit_log_group: str | None = None
    namespace: str = "Application"
    # The emf exporter's metric events go here (None: log_group).
    emf_log_group: str | None = None
    # The emf exporter's destination: logs (PutLogEvents), stdout, tcp://host:25888 or udp://host:25888.
    emf_destination: str | None = None
    version: str = ""
    # Sending: a bounded buffer per kind, flushed every interval or when a batch fills.
    flush_interval: float = 5.0
    max_queue: int = 10_000
    batch_size: int = 1_000
    timeout: float = 5.0
    shutdown_timeout: float = 5.0
    # Sampling: {route template: rate}; errors are always kept.
    sample_rates: dict[str, float] = field(default_factory=dict)
    default_sample_rate: float = 1.0
    # Request metrics: dimension sets each request is counted under.
    request_dimensions: tuple[tuple[str, ...], ...] = ((), ("Service",), ("Service", "Route"))
    # One JSON line per request (method, path, route, status, duration), sampled with its other lines.
    access_log: bool = True
    # Tracing: a SERVER span per request through the OpenTelemetry SDK (optional dependency).
    tracing: bool = False
    # None: <endpoint>/v1/traces (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT when set).
    traces_endpoint: str | None = None

    def __post_init__(self) -> None:
        if self.log_group is None:
            self.log_group = f"/app/{self.service}"
        if self.audit_log_group is None:
            self.audit_log_group = f"/app/{self.service}/audit"
        if self.log_stream is None:
            self.log_stream = default_stream()
        if self.max_queue < 1 or self.batch_size < 1:
            raise ValueError("max_queue and batch_size must be positive")
        if self.flush_interval <= 0:
            raise ValueError("flush_interval must be positive")
        for route, rate in self.sample_rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"sample rate for {route!r} must be between 0 and 1")

    @classmethod
    def from_env(cls, **overrides: Any) -> Config:
        env = os.environ
        values: dict[str, Any] = {}
        text = {
            "service": "REXWATCH_SERVICE", "endpoint": "REXWATCH_ENDPOINT", "exporter": "REXWATCH_EXPORTER",
            "api_key": "REXWATCH_API_KEY", "log_group": "REXWATCH_LOG_GROUP", "log_stream": "REXWATCH_LOG_STREAM",
            "audit_log_group": "REXWATCH_AUDIT_LOG_GROUP",
            "namespace": "REXWATCH_NAMESPACE", "version": "APP_VERSION",
            "aws_access_key_id": "AWS_ACCESS_KEY_ID", "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
            "aws_session_token": "AWS_SESSION_TOKEN", "traces_endpoint": "REXWATCH_TRACES_ENDPOINT",
            "emf_log_group": "REXWATCH_EMF_LOG_GROUP", "emf_destination": "REXWATCH_EMF_DESTINATION",
        }
        for attr, name in text.items():
            if env.get(name):
                values[attr] = env[name]
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if region:
            values["region"] = region
        for attr, name in (("flush_interval", "REXWATCH_FLUSH_INTERVAL"), ("timeout", "REXWATCH_TIMEOUT"),
                           ("default_sample_rate", "REXWATCH_SAMPLE_DEFAULT")):
            if env.get(name):
                values[attr] = _env_float(name, 0.0)
        for attr, name in (("max_queue", "REXWATCH_MAX_QUEUE"), ("batch_size", "REXWATCH_BATCH_SIZE")):
            if env.get(name):
                values[attr] = int(_env_float(name, 0))
        if env.get("REXWATCH_TRACING"):
            values["tracing"] = env["REXWATCH_TRACING"].strip().lower() in ("1", "true", "yes", "on")
        if env.get("REXWATCH_SAMPLE"):
            values["sample_rates"] = parse_sample_rules(env["REXWATCH_SAMPLE"])
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown SDK settings: {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def default_stream() -> str:
    """``<host>/<pid>``: one stream per process, so each stream's events arrive in order."""
    host = socket.gethostname().replace(":", "-").replace("*", "-") or "host"
    return f"{host}/{os.getpid()}"

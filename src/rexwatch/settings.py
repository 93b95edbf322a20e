"""One typed settings object for the whole program.

Sources, highest priority first: explicit overrides (CLI flags), ``REXWATCH_*``
environment variables, the TOML file given by ``--config`` / ``REXWATCH_CONFIG``,
then defaults. ``docs/configuration.md`` documents every field; a test keeps
the two in step.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from rexwatch.errors import ConfigError
from rexwatch.services.sso.config import SsoProvider, check_unique


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("rexwatch", appauthor=False))


class ScrapeTarget(BaseModel):
    """One Prometheus exporter the server scrapes (a ``[[scrape]]`` table of the config file)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2048, description="The exporter's metrics URL (http or https).")
    job: str = Field(min_length=1, max_length=1024, description="The `job` dimension, as Prometheus' job_name.")
    interval_s: float = Field(60.0, ge=1, le=3600, description="Seconds between scrapes.")
    timeout_s: float = Field(10.0, gt=0, le=3600, description="A scrape taking longer fails (up = 0).")
    labels: dict[str, str] = Field(default_factory=dict, description="Further dimensions of every sample.")
    namespace: str = Field("", max_length=255, description="Namespace; empty: the scrape_namespace setting.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return v.strip()

    @field_validator("timeout_s")
    @classmethod
    def _timeout(cls, v: float, info: Any) -> float:
        interval = info.data.get("interval_s")
        if interval is not None and v > interval:
            raise ValueError("must not exceed interval_s (a scrape must end before the next one starts)")
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if not k or len(k) > 255 or k.startswith("__") or k in ("job", "instance"):
                raise ValueError(f"label {k!r}: names are 1-255 characters, not job, instance or __*")
        return v


class Settings(BaseSettings):
    """Effective configuration. Field docs are the configuration reference."""

    model_config = SettingsConfigDict(env_prefix="REXWATCH_", extra="forbid", validate_default=True)

    data_dir: Path = Field(default_factory=default_data_dir, description="Where embedded stores live.")
    host: str = Field("127.0.0.1", description="Address the server binds.")
    port: int = Field(9099, ge=0, le=65535, description="Port for every door (AWS protocols, REST API, web UI).")
    auth: Literal["auto", "on", "off"] = Field(
        "auto", description="API authentication. auto = off on loopback, on elsewhere."
    )
    control_url: str = Field(
        "", description="SQLAlchemy URL of the control store; default SQLite at DATA_DIR/control.db."
    )
    telemetry_url: str = Field(
        "", description="Telemetry store: empty for embedded chdb under DATA_DIR/telemetry."
    )
    telemetry_database: str = Field(
        "rexwatch",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="ClickHouse database holding telemetry tables.",
    )
    secret_key: SecretStr = Field(
        SecretStr(""), description="Key encrypting stored secrets; default a key file in DATA_DIR."
    )
    region: str = Field("us-east-1", description="Region used in ARNs and AWS responses.")
    account_id: str = Field("000000000000", pattern=r"^[0-9]{12}$", description="Account id used in ARNs.")
    public_url: str = Field("", description="External URL of this server, used in links in notifications.")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Server log level.")
    log_format: Literal["auto", "json", "pretty"] = Field(
        "auto", description="auto = pretty in a terminal, JSON lines otherwise."
    )
    workers: str = Field("all", description="Comma-separated workers to run in the server, 'all' or 'none'.")
    smtp_host: str = Field(
        "", description="SMTP server for email notifications; empty keeps mail in the local mailbox (rexwatch mail)."
    )
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port.")
    smtp_tls: Literal["none", "starttls", "tls"] = Field("none", description="SMTP transport security.")
    smtp_user: str = Field("", description="SMTP user name (empty: no login).")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    smtp_from: str = Field("rexwatch@localhost", description="Sender address of notification mail.")
    notify_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Timeout of one notification delivery attempt (HTTP or SMTP)."
    )
    notify_backoff_scale: float = Field(
        1.0, gt=0, le=100, description="Multiplies every provider's retry backoff (0.1 = ten times sooner)."
    )
    notify_concurrency: int = Field(64, ge=1, le=1024, description="Notification deliveries sent at once.")
    query_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="Logs Insights queries running longer are stopped (status Timeout)."
    )
    telemetry_max_execution_s: float = Field(
        30.0, gt=0, le=3600,
        description="Time limit of every other telemetry query (FilterLogEvents, metrics reads, alarms).",
    )
    telemetry_max_memory_mb: int = Field(
        4096, ge=16, description="Memory limit of one telemetry query, Logs Insights included (MiB)."
    )
    metric_filter_queue_events: int = Field(
        500_000, ge=1_000,
        description="Ingested events held for the metric-filter worker; past it, it re-reads them from the store.",
    )
    logs_buffer_max_events: int = Field(
        400_000, ge=10_000, description="Log events waiting for insert before PutLogEvents is throttled (429)."
    )
    logs_buffer_linger_ms: float = Field(
        2.0, ge=0, le=1000, description="How long the log ingest buffer waits to coalesce requests."
    )
    otlp_log_group: str = Field(
        "/otel/{service.name}", min_length=1, max_length=512,
        description="Log group of OTLP log records; {attr} is replaced by that resource attribute.",
    )
    otlp_metrics_namespace: str = Field(
        "otel", min_length=1, max_length=255,
        description="Namespace of OTLP metrics; {attr} is replaced by that resource attribute.",
    )
    otlp_resource_dimensions: str = Field(
        "service.name,service.namespace,deployment.environment,deployment.environment.name,host.name,"
        "k8s.namespace.name,k8s.deployment.name",
        description="Comma-separated resource attributes kept as dimensions of OTLP metrics (in this order).",
    )
    prometheus_namespace: str = Field(
        "prometheus", min_length=1, max_length=255, pattern=r"^[^:]",
        description="Namespace of samples received by Prometheus remote_write.",
    )
    scrape: list[ScrapeTarget] = Field(
        default_factory=list,
        description="Prometheus exporters to scrape: [[scrape]] tables of the config file (url, job, interval_s, "
        "timeout_s, labels, namespace), or a JSON list in the environment variable.",
    )
    scrape_namespace: str = Field(
        "prometheus/scrape", min_length=1, max_length=255, pattern=r"^[^:]",
        description="Namespace of scraped samples (a target's namespace overrides it).",
    )
    scrape_max_body_mb: float = Field(
        16.0, gt=0, le=1024, description="A scrape answer larger than this (after decompression) fails (MiB).",
    )
    scrape_sample_limit: int = Field(
        50_000, ge=1, le=10_000_000, description="A scrape exposing more samples than this fails, as in Prometheus.",
    )
    otlp_port: int = Field(
        0, ge=0, le=65535,
        description="Also serve OTLP/HTTP (/v1/logs, /v1/metrics, /v1/traces only) on this port; OTLP's "
        "standard is 4318. 0: only on the main port.",
    )
    otlp_grpc_port: int = Field(
        0, ge=0, le=65535,
        description="Serve OTLP/gRPC (the logs, metrics and traces Export calls) on this port; OTLP's standard "
        "is 4317. 0: off.",
    )
    emf_agent_port: int = Field(
        0, ge=0, le=65535,
        description="Listen for embedded-metric-format events on this TCP and UDP port, as the CloudWatch "
        "agent does (its port is 25888). 0: off.",
    )
    trace_retention_days: int = Field(
        30, ge=1, le=3653, description="Days spans received by OTLP /v1/traces are kept (whole days are dropped)."
    )
    probe_concurrency: int = Field(
        500, ge=1, le=20000, description="Health checks and uptime probes running at once."
    )
    public: str = Field(
        "status,health",
        description="With auth on, what answers without a key: comma-separated of status, health, metrics, api_docs, ui.",
    )
    max_body_mb: int = Field(12, ge=1, le=1024, description="Largest request body any door accepts (MiB); 413 past it.")
    read_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="Time a client has to send one request's headers and body."
    )
    security_log_group: str = Field(
        "/rexwatch/security", min_length=1, max_length=512,
        description="Log group receiving an event for every IP block and unblock.",
    )
    audit_log_group: str = Field(
        "/rexwatch/audit", min_length=1, max_length=512,
        description="Log group receiving the audit trail: every change through any door, and failed logins.",
    )
    audit_retention_days: int = Field(
        400, ge=0, le=3653,
        description="Retention given to the audit log group when rexwatch creates it (a CloudWatch retention "
        "value such as 90, 400 or 3653; 0 keeps events forever).",
    )
    session_idle_minutes: int = Field(
        120, ge=1, le=60 * 24 * 30, description="A console session ends after this long without a request."
    )
    session_max_hours: int = Field(
        24, ge=1, le=24 * 90, description="A console session ends this long after login, however busy."
    )
    login_max_failures: int = Field(
        5, ge=1, le=1000,
        description="Failed logins in a row (per user) or within 5 minutes (per client address) before "
        "logins are refused for login_lockout_minutes.",
    )
    login_lockout_minutes: int = Field(
        15, ge=1, le=24 * 60, description="How long logins stay refused after login_max_failures failures."
    )
    sso: list[SsoProvider] = Field(
        default_factory=list,
        description="Single sign-on providers offered on /login: one [[sso]] table each (docs/users.md).",
    )
    proxy_auth_header: str = Field(
        "", max_length=100, pattern=r"^([A-Za-z0-9-]+)?$",
        description="Header a trusted reverse proxy names the signed-in user in (e.g. X-Forwarded-User); "
        "empty: off.",
    )
    proxy_auth_trusted: str = Field(
        "", description="Comma-separated networks whose connections may use proxy_auth_header (the proxies)."
    )
    proxy_auth_create_users: bool = Field(
        True, description="Create a user at the first request naming an unknown user in proxy_auth_header."
    )
    proxy_auth_role: Literal["viewer", "editor", "admin"] = Field(
        "viewer", description="Role of users created by proxy_auth_header."
    )
    log_alarm_queries_per_tick: int = Field(
        50, ge=1, le=10_000,
        description="Log alarm queries one evaluator tick runs at most; alarms past it wait for the next tick.",
    )
    outbound_allow_link_local: bool = Field(
        False,
        description="Let outbound requests (monitors, notifications, SMTP) reach link-local and cloud metadata "
        "addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200, ...).",
    )
    self_monitor: bool = Field(
        True, description="Record the server's own request log and metrics in its own stores (selfwatch worker)."
    )
    self_monitor_log_group: str = Field(
        "/rexwatch/requests", min_length=1, max_length=512, pattern=r"^[\.\-_/#A-Za-z0-9]+$",
        description="Log group of the server's request log.",
    )
    self_monitor_namespace: str = Field(
        "Rexwatch/Server", min_length=1, max_length=255, description="Metric namespace of the server's own metrics."
    )
    self_monitor_retention_days: int = Field(
        7, description="Retention set on the request-log group when it is created (a CloudWatch retention value)."
    )
    self_monitor_flush_s: float = Field(
        5.0, ge=1, le=300, description="How often the server writes its request log and metrics (one batch each)."
    )
    self_monitor_buffer: int = Field(
        20_000, ge=100, le=1_000_000,
        description="Request-log entries held between flushes; past it, entries are dropped and counted.",
    )
    self_monitor_health_interval_s: float = Field(
        30.0, ge=0, le=86_400,
        description="Interval of the built-in uptime monitor on the server's own /health; 0 creates none.",
    )

    @field_validator("self_monitor_retention_days")
    @classmethod
    def _retention_value(cls, v: int) -> int:
        from rexwatch.services.logs.rules import RETENTION_DAYS

        if v not in RETENTION_DAYS:
            raise ValueError(f"must be one of {', '.join(map(str, sorted(RETENTION_DAYS)))}")
        return v

    @field_validator("public")
    @classmethod
    def _known_public_groups(cls, v: str) -> str:
        from rexwatch.api.guard import PUBLIC_GROUPS

        groups = [g.strip() for g in v.split(",") if g.strip()]
        unknown = [g for g in groups if g not in PUBLIC_GROUPS]
        if unknown:
            raise ValueError(f"unknown group {unknown[0]!r}; known: {', '.join(PUBLIC_GROUPS)}")
        return ",".join(groups)

    outbound_allow_loopback: bool = Field(
        True, description="Let outbound requests reach loopback addresses (127.0.0.0/8, ::1, 0.0.0.0)."
    )
    outbound_allow_private: bool = Field(
        True,
        description="Let outbound requests reach private networks (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7).",
    )
    outbound_allow_cidrs: str = Field(
        "", description="Comma-separated networks outbound requests may always reach, whatever their class."
    )

    @field_validator("sso")
    @classmethod
    def _sso_names(cls, v: list[SsoProvider]) -> list[SsoProvider]:
        return check_unique(v)

    @field_validator("proxy_auth_trusted")
    @classmethod
    def _proxy_cidrs(cls, v: str) -> str:
        from rexwatch.netpolicy import parse_cidrs

        parse_cidrs(v)  # ValueError names the bad network
        return v

    @field_validator("outbound_allow_cidrs")
    @classmethod
    def _cidrs(cls, v: str) -> str:
        from rexwatch.netpolicy import parse_cidrs

        parse_cidrs(v)  # ValueError names the bad network
        return v

    @model_validator(mode="after")
    def _proxy_needs_trusted(self) -> Settings:
        if self.proxy_auth_header and not self.proxy_auth_trusted.strip():
            raise ValueError("proxy_auth_header needs proxy_auth_trusted: the networks of the proxies "
                             "allowed to name users (anyone else could send the header)")
        return self

    @field_validator("host")
    @classmethod
    def _host_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v.strip()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    # Derived values -----------------------------------------------------------

    @property
    def effective_control_url(self) -> str:
        return self.control_url or f"sqlite:///{self.data_dir / 'control.db'}"

    @property
    def max_body_bytes(self) -> int:
        return self.max_body_mb * 1024 * 1024

    @property
    def telemetry_path(self) -> Path:
        return self.data_dir / "telemetry"

    @property
    def loopback_only(self) -> bool:
        return is_loopback(self.host)

    @property
    def auth_enabled(self) -> bool:
        if self.auth == "auto":
            return not self.loopback_only
        return self.auth == "on"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host if self.host not in ("0.0.0.0", "::") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def masked(self) -> dict[str, Any]:
        """Effective settings as plain data with secrets masked, for display."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "sso":
                value = [p.masked() for p in value]
            elif isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, list):
                value = [v.model_dump() if isinstance(v, BaseModel) else v for v in value]
            elif name.endswith("_url") and isinstance(value, str):
                value = mask_url_password(value)
            out[name] = value
        out["control_url"] = mask_url_password(self.effective_control_url)
        out["auth_enabled"] = self.auth_enabled
        return out


_config_file: Path | None = None


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by ``--config`` or ``REXWATCH_CONFIG``."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _config_file or (
            Path(os.environ["REXWATCH_CONFIG"]) if os.environ.get("REXWATCH_CONFIG") else None
        )
        if path is None:
            return {}
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist")
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path} is not valid TOML: {e}")
        except OSError as e:
            raise ConfigError(f"config file {path} cannot be read: {e.strerror}")
        # Allow both a flat file and one with a [rexwatch] table.
        return data.get("rexwatch", data)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def mask_url_password(url: str) -> str:
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":********"
    return f"{scheme}://{creds}@{host}"


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings, turning every validation problem into one clear ConfigError line."""
    global _config_file
    _config_file = Path(config_file) if config_file else None
    overrides = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**overrides)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "settings"
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown setting"
            problems.append(f"{loc}: {msg}")
        raise ConfigError("invalid settings: " + "; ".join(problems))
    finally:
        _config_file = None

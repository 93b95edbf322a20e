"""Uptime monitors, target groups and their health, maintenance windows, status pages.

Configuration rows (``monitors``, ``target_groups``, ``targets``) are written by
the API; state rows (``monitor_state``, ``target_health``) by the prober, so the
two never contend for the same row.
"""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from rexwatch.stores.control.tables import metadata
from rexwatch.stores.control.types import UTCDateTime

monitors = Table(
    "monitors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("type", String(20), nullable=False),
    # Type-specific settings, validated and normalised by the type module.
    Column("config", JSON, nullable=False),
    Column("interval_s", Float, nullable=False),
    Column("timeout_s", Float, nullable=False),
    Column("retries", Integer, nullable=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("topic_arns", JSON, nullable=False),
    Column("push_token", String(64), unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

monitor_state = Table(
    "monitor_state",
    metadata,
    Column("monitor_id", Integer, ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True),
    Column("status", String(12), nullable=False),  # pending | up | down
    Column("fail_count", Integer, nullable=False, default=0),
    Column("history", String(32), nullable=False, default=""),  # last outcomes, '1' ok / '0' failed
    Column("flapping", Boolean, nullable=False, default=False),
    Column("last_notified", String(12)),
    Column("last_check_at", UTCDateTime()),
    Column("last_change_at", UTCDateTime()),
    Column("last_push_at", UTCDateTime()),
    Column("last_latency_ms", Float),
    Column("last_error", Text),
)

target_groups = Table(
    "target_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(32), nullable=False, unique=True),
    Column("arn", String(300), nullable=False, unique=True),
    Column("protocol", String(8), nullable=False),
    Column("port", Integer),
    Column("hc_enabled", Boolean, nullable=False),
    Column("hc_protocol", String(8), nullable=False),
    Column("hc_path", String(1024), nullable=False),
    Column("hc_port", String(16), nullable=False),  # "traffic-port" or a number
    Column("matcher", String(200), nullable=False),
    Column("interval_s", Float, nullable=False),
    Column("timeout_s", Float, nullable=False),
    Column("healthy_threshold", Integer, nullable=False),
    Column("unhealthy_threshold", Integer, nullable=False),
    Column("topic_arns", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

targets = Table(
    "targets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target_group_id", Integer, ForeignKey("target_groups.id", ondelete="CASCADE"), nullable=False),
    Column("target_id", String(500), nullable=False),
    Column("port", Integer),
    Column("registered_at", UTCDateTime(), nullable=False),
    UniqueConstraint("target_group_id", "target_id", "port", name="uq_targets_group_target_port"),
    sqlite_autoincrement=True,
)

target_health = Table(
    "target_health",
    metadata,
    Column("target_row_id", Integer, ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True),
    Column("state", String(12), nullable=False),  # initial | healthy | unhealthy | unused
    Column("reason", String(64)),
    Column("description", Text),
    Column("success_count", Integer, nullable=False, default=0),
    Column("fail_count", Integer, nullable=False, default=0),
    Column("last_notified", String(12)),
    Column("last_check_at", UTCDateTime()),
    Column("last_latency_ms", Float),
)

maintenance_windows = Table(
    "maintenance_windows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("monitor_ids", JSON, nullable=False),  # empty list: every monitor
    Column("created_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

status_pages = Table(
    "status_pages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slug", String(100), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("monitor_ids", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

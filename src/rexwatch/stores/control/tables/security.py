"""Security: per-key states of log alarms, the IP blocklist and the allowlist that always wins."""

from sqlalchemy import JSON, Column, Float, Index, Integer, String, Table, Text, UniqueConstraint

from rexwatch.stores.control.tables import metadata

# One row per key (an IP, a user, ...) of a log alarm that is in ALARM. A key that stops
# matching is deleted: its resolution is a history item of the alarm.
log_alarm_keys = Table(
    "log_alarm_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alarm_name", String(255), nullable=False),
    # The group-by values joined by "|" ("" for an alarm without group-by).
    Column("key", String(1024), nullable=False),
    Column("state", String(32), nullable=False),
    Column("value", Float),
    # The result row that breached (column -> value), shown in notifications and the API.
    Column("row", JSON, nullable=False),
    Column("since", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("alarm_name", "key", name="uq_log_alarm_keys_alarm_key"),
    sqlite_autoincrement=True,
)

blocklist = Table(
    "blocklist",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # An address or a CIDR network in its normalised text form.
    Column("cidr", String(64), nullable=False, unique=True),
    Column("reason", Text, nullable=False),
    # The log alarm that added it, or None for a manual entry.
    Column("alarm_name", String(255)),
    Column("added_by", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    # Epoch seconds when the block lifts; None blocks until removed.
    Column("expires_at", Float),
    sqlite_autoincrement=True,
)
Index("ix_blocklist_expires", blocklist.c.expires_at)

allowlist = Table(
    "allowlist",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cidr", String(64), nullable=False, unique=True),
    Column("note", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    sqlite_autoincrement=True,
)

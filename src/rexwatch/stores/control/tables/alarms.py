"""Alarms: configuration and state, history, mute rules and acknowledgements."""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from rexwatch.stores.control.tables import metadata
from rexwatch.stores.control.types import UTCDateTime

alarms = Table(
    "alarms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    # 'metric' or 'composite'
    Column("kind", String(16), nullable=False),
    Column("description", Text),
    # Metric identity, kept in columns for DescribeAlarmsForMetric; dimensions_key is
    # the sorted "Name=Value" list joined by newlines.
    Column("namespace", String(255)),
    Column("metric_name", String(255)),
    Column("dimensions_key", Text),
    # Everything else PutMetricAlarm / PutCompositeAlarm accepted, as snake_case JSON.
    Column("config", JSON, nullable=False),
    Column("actions_enabled", Boolean, nullable=False, default=True),
    Column("alarm_actions", JSON, nullable=False),
    Column("ok_actions", JSON, nullable=False),
    Column("insufficient_data_actions", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("config_updated_at", UTCDateTime(), nullable=False),
    Column("state_value", String(32), nullable=False),
    Column("state_reason", Text, nullable=False),
    Column("state_reason_data", Text),
    Column("state_updated_at", UTCDateTime(), nullable=False),
    Column("state_transitioned_at", UTCDateTime(), nullable=False),
    # Set by SetAlarmState; the next evaluation replaces it.
    Column("state_override", Boolean, nullable=False, default=False),
    # Scheduling: epoch seconds of the next evaluation due and the last one done.
    Column("next_eval_at", Float, nullable=False, default=0.0),
    Column("last_eval_at", Float),
    # Re-notify and acknowledgement (beyond CloudWatch).
    Column("renotify_interval", Integer),
    Column("next_renotify_at", Float),
    Column("acked_at", UTCDateTime()),
    Column("acked_by", String(200)),
    Column("ack_reason", Text),
    # Whether the actions of the current ALARM episode were sent (not muted), so the
    # OK that ends it is sent even while a mute rule is active.
    Column("alarm_notified", Boolean, nullable=False, default=False),
    # The ALARM notification was held back by a mute rule: it goes out when the mute ends
    # if the alarm is still in ALARM.
    Column("held_by_mute", Boolean, nullable=False, default=False),
    # Why the last evaluation could not judge the alarm (its data could not be read or the
    # evaluator failed); cleared by the next evaluation that succeeds. Shown to the user.
    Column("evaluation_error", Text),
    # The team the alarm belongs to (teams.id); NULL: no team, visible to every caller.
    Column("team_id", Integer, index=True),
    sqlite_autoincrement=True,
)
Index("ix_alarms_metric", alarms.c.namespace, alarms.c.metric_name)
Index("ix_alarms_due", alarms.c.kind, alarms.c.next_eval_at)

alarm_history = Table(
    "alarm_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alarm_name", String(255), nullable=False),
    Column("alarm_type", String(32), nullable=False),  # MetricAlarm | CompositeAlarm
    Column("timestamp", UTCDateTime(), nullable=False),
    Column("item_type", String(32), nullable=False),  # StateUpdate | ConfigurationUpdate | Action
    Column("summary", Text, nullable=False),
    Column("data", Text, nullable=False),
    sqlite_autoincrement=True,
)
Index("ix_alarm_history_name_ts", alarm_history.c.alarm_name, alarm_history.c.timestamp)
Index("ix_alarm_history_ts", alarm_history.c.timestamp)

alarm_mute_rules = Table(
    "alarm_mute_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("description", Text),
    Column("expression", String(256), nullable=False),  # cron(m h dom mon dow) or at(yyyy-MM-ddThh:mm)
    Column("duration", String(50), nullable=False),  # ISO 8601 duration, PT1M .. P15D
    Column("timezone", String(50), nullable=False),
    Column("alarm_names", JSON, nullable=False),
    Column("start_date", UTCDateTime()),
    Column("expire_date", UTCDateTime()),
    Column("tags", JSON, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

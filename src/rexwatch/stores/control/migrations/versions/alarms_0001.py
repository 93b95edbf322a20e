"""alarms: alarms, alarm history, mute rules

Revision ID: alarms_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "alarms_0001"
down_revision = None
branch_labels = ("alarms",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("namespace", sa.String(255)),
        sa.Column("metric_name", sa.String(255)),
        sa.Column("dimensions_key", sa.Text),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("actions_enabled", sa.Boolean, nullable=False),
        sa.Column("alarm_actions", sa.JSON, nullable=False),
        sa.Column("ok_actions", sa.JSON, nullable=False),
        sa.Column("insufficient_data_actions", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("config_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_value", sa.String(32), nullable=False),
        sa.Column("state_reason", sa.Text, nullable=False),
        sa.Column("state_reason_data", sa.Text),
        sa.Column("state_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_transitioned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_override", sa.Boolean, nullable=False),
        sa.Column("next_eval_at", sa.Float, nullable=False),
        sa.Column("last_eval_at", sa.Float),
        sa.Column("renotify_interval", sa.Integer),
        sa.Column("next_renotify_at", sa.Float),
        sa.Column("acked_at", sa.DateTime(timezone=True)),
        sa.Column("acked_by", sa.String(200)),
        sa.Column("ack_reason", sa.Text),
        sa.Column("alarm_notified", sa.Boolean, nullable=False),
        sa.Column("held_by_mute", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("name", name="uq_alarms_name"),
    )
    op.create_index("ix_alarms_metric", "alarms", ["namespace", "metric_name"])
    op.create_index("ix_alarms_due", "alarms", ["kind", "next_eval_at"])
    op.create_table(
        "alarm_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alarm_name", sa.String(255), nullable=False),
        sa.Column("alarm_type", sa.String(32), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("item_type", sa.String(32), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("ix_alarm_history_name_ts", "alarm_history", ["alarm_name", "timestamp"])
    op.create_index("ix_alarm_history_ts", "alarm_history", ["timestamp"])
    op.create_table(
        "alarm_mute_rules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("expression", sa.String(256), nullable=False),
        sa.Column("duration", sa.String(50), nullable=False),
        sa.Column("timezone", sa.String(50), nullable=False),
        sa.Column("alarm_names", sa.JSON, nullable=False),
        sa.Column("start_date", sa.DateTime(timezone=True)),
        sa.Column("expire_date", sa.DateTime(timezone=True)),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", name="uq_alarm_mute_rules_name"),
    )


def downgrade() -> None:
    op.drop_table("alarm_mute_rules")
    op.drop_table("alarm_history")
    op.drop_table("alarms")

"""monitors: uptime monitors, target groups, target health, maintenance windows, status pages

Revision ID: monitors_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "monitors_0001"
down_revision = None
branch_labels = ("monitors",)
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("interval_s", sa.Float, nullable=False),
        sa.Column("timeout_s", sa.Float, nullable=False),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("topic_arns", sa.JSON, nullable=False),
        sa.Column("push_token", sa.String(64)),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.UniqueConstraint("name", name="uq_monitors_name"),
        sa.UniqueConstraint("push_token", name="uq_monitors_push_token"),
    )
    op.create_table(
        "monitor_state",
        sa.Column(
            "monitor_id", sa.Integer, sa.ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("fail_count", sa.Integer, nullable=False),
        sa.Column("history", sa.String(32), nullable=False),
        sa.Column("flapping", sa.Boolean, nullable=False),
        sa.Column("last_notified", sa.String(12)),
        sa.Column("last_check_at", ts),
        sa.Column("last_change_at", ts),
        sa.Column("last_push_at", ts),
        sa.Column("last_latency_ms", sa.Float),
        sa.Column("last_error", sa.Text),
    )
    op.create_table(
        "target_groups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("arn", sa.String(300), nullable=False),
        sa.Column("protocol", sa.String(8), nullable=False),
        sa.Column("port", sa.Integer),
        sa.Column("hc_enabled", sa.Boolean, nullable=False),
        sa.Column("hc_protocol", sa.String(8), nullable=False),
        sa.Column("hc_path", sa.String(1024), nullable=False),
        sa.Column("hc_port", sa.String(16), nullable=False),
        sa.Column("matcher", sa.String(200), nullable=False),
        sa.Column("interval_s", sa.Float, nullable=False),
        sa.Column("timeout_s", sa.Float, nullable=False),
        sa.Column("healthy_threshold", sa.Integer, nullable=False),
        sa.Column("unhealthy_threshold", sa.Integer, nullable=False),
        sa.Column("topic_arns", sa.JSON, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.UniqueConstraint("name", name="uq_target_groups_name"),
        sa.UniqueConstraint("arn", name="uq_target_groups_arn"),
    )
    op.create_table(
        "targets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "target_group_id",
            sa.Integer,
            sa.ForeignKey("target_groups.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("target_id", sa.String(500), nullable=False),
        sa.Column("port", sa.Integer),
        sa.Column("registered_at", ts, nullable=False),
        sa.UniqueConstraint("target_group_id", "target_id", "port", name="uq_targets_group_target_port"),
    )
    op.create_table(
        "target_health",
        sa.Column(
            "target_row_id", sa.Integer, sa.ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("description", sa.Text),
        sa.Column("success_count", sa.Integer, nullable=False),
        sa.Column("fail_count", sa.Integer, nullable=False),
        sa.Column("last_notified", sa.String(12)),
        sa.Column("last_check_at", ts),
        sa.Column("last_latency_ms", sa.Float),
    )
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("starts_at", ts, nullable=False),
        sa.Column("ends_at", ts, nullable=False),
        sa.Column("monitor_ids", sa.JSON, nullable=False),
        sa.Column("created_at", ts, nullable=False),
    )
    op.create_table(
        "status_pages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("monitor_ids", sa.JSON, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.UniqueConstraint("slug", name="uq_status_pages_slug"),
    )


def downgrade() -> None:
    for name in (
        "status_pages",
        "maintenance_windows",
        "target_health",
        "targets",
        "target_groups",
        "monitor_state",
        "monitors",
    ):
        op.drop_table(name)

"""metric_filters: metric filters of log groups

Revision ID: metric_filters_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "metric_filters_0001"
down_revision = None
branch_labels = ("metric_filters",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_filters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("group_id", sa.Integer, nullable=False),
        sa.Column("log_group_name", sa.String(512), nullable=False),
        sa.Column("filter_name", sa.String(512), nullable=False),
        sa.Column("filter_pattern", sa.Text, nullable=False),
        sa.Column("transformations", sa.Text, nullable=False),
        sa.Column("apply_on_transformed_logs", sa.Boolean, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("group_id", "filter_name", name="uq_metric_filters_group_name"),
    )
    op.create_index("ix_metric_filters_group_id", "metric_filters", ["group_id"])


def downgrade() -> None:
    op.drop_table("metric_filters")

"""metric_filters: the metric-filter worker's high-water mark over the log table

Revision ID: metric_filters_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "metric_filters_0002"
down_revision = "metric_filters_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_filter_cursor",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("metric_filter_cursor")

"""dashboards: CloudWatch-style dashboards

Revision ID: dashboards_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "dashboards_0001"
down_revision = None
branch_labels = ("dashboards",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboards",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("last_modified", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dashboards")

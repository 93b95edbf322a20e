"""insights: saved query definitions

Revision ID: insights_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "insights_0001"
down_revision = None
branch_labels = ("insights",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "query_definitions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("query_string", sa.Text, nullable=False),
        sa.Column("log_group_names", sa.Text, nullable=False),
        sa.Column("last_modified", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_query_definitions_name", "query_definitions", ["name"])


def downgrade() -> None:
    op.drop_table("query_definitions")

"""insights: the console's per-user query history

Revision ID: insights_0002_history
"""

import sqlalchemy as sa
from alembic import op

revision = "insights_0002_history"
down_revision = "insights_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "query_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("query_string", sa.Text, nullable=False),
        sa.Column("log_group_names", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_query_history_owner", "query_history", ["owner", "id"])


def downgrade() -> None:
    op.drop_index("ix_query_history_owner", "query_history")
    op.drop_table("query_history")

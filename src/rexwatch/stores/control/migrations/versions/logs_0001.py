"""logs: log groups, log streams, tombstones

Revision ID: logs_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "logs_0001"
down_revision = None
branch_labels = ("logs",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_groups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("retention_days", sa.Integer),
        sa.Column("kms_key_id", sa.String(256)),
        sa.Column("log_group_class", sa.String(32), nullable=False, server_default="STANDARD"),
        sa.Column("deletion_protection", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("tags", sa.Text),
        sa.Column("index_policy", sa.Text),
        sa.Column("index_policy_ms", sa.BigInteger),
        sa.UniqueConstraint("name", name="uq_log_groups_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "log_streams",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("group_id", sa.Integer, sa.ForeignKey("log_groups.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("group_id", "name", name="uq_log_streams_group_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "log_tombstones",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("group_id", sa.Integer, nullable=False),
        sa.Column("stream_id", sa.Integer),
        sa.Column("deleted_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("log_tombstones")
    op.drop_table("log_streams")
    op.drop_table("log_groups")

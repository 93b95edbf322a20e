"""security: log alarm key states, IP blocklist and allowlist

Revision ID: security_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "security_0001"
down_revision = None
branch_labels = ("security",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_alarm_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alarm_name", sa.String(255), nullable=False),
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("row", sa.JSON, nullable=False),
        sa.Column("since", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("alarm_name", "key", name="uq_log_alarm_keys_alarm_key"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "blocklist",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("cidr", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("alarm_name", sa.String(255)),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float),
        sa.UniqueConstraint("cidr", name="uq_blocklist_cidr"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_blocklist_expires", "blocklist", ["expires_at"])
    op.create_table(
        "allowlist",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("cidr", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("cidr", name="uq_allowlist_cidr"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("allowlist")
    op.drop_index("ix_blocklist_expires", "blocklist")
    op.drop_table("blocklist")
    op.drop_table("log_alarm_keys")

"""users: local users, console sessions, key owners and scopes; 'user' keys become editors

Revision ID: users_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "users_0001"
down_revision = None
branch_labels = ("users",)
depends_on = "core_0003_roles"


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.Float),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_seen_at", sa.Float, nullable=False),
        sa.Column("ip", sa.String(64), nullable=False, server_default=""),
        sa.Column("user_agent", sa.String(300), nullable=False, server_default=""),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("scope", sa.String(16)))
        batch.add_column(sa.Column("user_id", sa.Integer))
    # The old 'user' role could do everything but manage keys: today's editor.
    op.execute("UPDATE api_keys SET role = 'editor' WHERE role = 'user'")


def downgrade() -> None:
    op.execute("UPDATE api_keys SET role = 'user' WHERE role IN ('editor', 'viewer')")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("user_id")
        batch.drop_column("scope")
    op.drop_index("ix_sessions_user_id", "sessions")
    op.drop_table("sessions")
    op.drop_table("users")

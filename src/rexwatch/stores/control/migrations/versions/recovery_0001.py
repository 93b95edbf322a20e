"""recovery: users' email addresses, password reset tokens, TOTP secrets and recovery codes

Revision ID: recovery_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "recovery_0001"
down_revision = None
branch_labels = ("recovery",)
depends_on = "users_0001"


def upgrade() -> None:
    op.create_table(
        "user_emails",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
    )
    op.create_index("ix_user_emails_email", "user_emails", ["email"])
    op.create_table(
        "password_resets",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float),
    )
    op.create_index("ix_password_resets_user_id", "password_resets", ["user_id"])
    op.create_table(
        "user_totp",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("secret_enc", sa.Text, nullable=False),
        sa.Column("enabled_at", sa.Float),
        sa.Column("last_step", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "totp_recovery_codes",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", sa.Float),
        sa.PrimaryKeyConstraint("user_id", "code_hash", name="pk_totp_recovery_codes"),
    )


def downgrade() -> None:
    op.drop_table("totp_recovery_codes")
    op.drop_table("user_totp")
    op.drop_index("ix_password_resets_user_id", "password_resets")
    op.drop_table("password_resets")
    op.drop_index("ix_user_emails_email", "user_emails")
    op.drop_table("user_emails")

"""sso: identities of single sign-on providers linked to users

Revision ID: sso_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "sso_0001"
down_revision = None
branch_labels = ("sso",)
depends_on = "users_0001"


def upgrade() -> None:
    op.create_table(
        "sso_identities",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False, server_default=""),
        sa.Column("teams", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_login_at", sa.Float, nullable=False),
        sa.UniqueConstraint("provider", "subject", name="uq_sso_identities_provider_subject"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_sso_identities_user_id", "sso_identities", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_sso_identities_user_id", "sso_identities")
    op.drop_table("sso_identities")

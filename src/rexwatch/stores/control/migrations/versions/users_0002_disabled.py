"""users: accounts an admin disabled

Revision ID: users_0002_disabled
"""

import sqlalchemy as sa
from alembic import op

revision = "users_0002_disabled"
down_revision = "users_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled_at")

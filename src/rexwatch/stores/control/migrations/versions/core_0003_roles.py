"""core: API key roles

Revision ID: core_0003_roles
"""

import sqlalchemy as sa
from alembic import op

revision = "core_0003_roles"
down_revision = "core_0002_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Keys made before roles existed could do everything: they stay admin keys.
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="admin"))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("role")

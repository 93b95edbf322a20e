"""alarms: evaluation_error, why the last evaluation of an alarm failed

Revision ID: alarms_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "alarms_0002"
down_revision = "alarms_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alarms", sa.Column("evaluation_error", sa.Text))


def downgrade() -> None:
    op.drop_column("alarms", "evaluation_error")

"""notify: the development mailbox, and a words-for-every-outcome column on the outbox

Revision ID: notify_0004_mailbox
"""

import sqlalchemy as sa
from alembic import op

revision = "notify_0004_mailbox"
down_revision = "notify_0003_sealed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_mailbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("to_addr", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("notify_outbox") as b:
        b.add_column(sa.Column("detail", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("notify_outbox") as b:
        b.drop_column("detail")
    op.drop_table("notify_mailbox")

"""notify: subscription endpoints encrypted at rest, found by a keyed hash

Revision ID: notify_0003_sealed
"""

import sqlalchemy as sa
from alembic import op

revision = "notify_0003_sealed"
down_revision = "notify_0002_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The service seals endpoints written before this revision (the key is not available here).
    with op.batch_alter_table("notify_subscriptions") as b:
        b.add_column(sa.Column("endpoint_hash", sa.String(64)))
        b.create_index("ix_notify_subscriptions_lookup", ["topic_id", "protocol", "endpoint_hash"])


def downgrade() -> None:
    with op.batch_alter_table("notify_subscriptions") as b:
        b.drop_index("ix_notify_subscriptions_lookup")
        b.drop_column("endpoint_hash")

"""notify: ids never reused (SQLite AUTOINCREMENT on notify_topics, notify_outbox)

Revision ID: notify_0002_ids
"""

from rexwatch.stores.control.autoincrement import rebuild

revision = "notify_0002_ids"
down_revision = "notify_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rebuild("notify_topics", "notify_outbox")


def downgrade() -> None:
    pass  # AUTOINCREMENT is harmless to keep

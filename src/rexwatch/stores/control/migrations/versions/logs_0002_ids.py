"""logs: ids never reused (SQLite AUTOINCREMENT on log_groups, log_streams, log_tombstones)

Revision ID: logs_0002_ids
"""

from rexwatch.stores.control.autoincrement import rebuild

revision = "logs_0002_ids"
down_revision = "logs_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rebuild("log_groups", "log_streams", "log_tombstones")


def downgrade() -> None:
    pass  # AUTOINCREMENT is harmless to keep

"""monitors: ids never reused (SQLite AUTOINCREMENT on monitors, target_groups, targets, maintenance_windows, status_pages)

Revision ID: monitors_0002_ids
"""

from rexwatch.stores.control.autoincrement import rebuild

revision = "monitors_0002_ids"
down_revision = "monitors_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rebuild("monitors", "target_groups", "targets", "maintenance_windows", "status_pages")


def downgrade() -> None:
    pass  # AUTOINCREMENT is harmless to keep

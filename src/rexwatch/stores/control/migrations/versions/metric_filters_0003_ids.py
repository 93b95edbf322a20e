"""metric_filters: ids never reused (SQLite AUTOINCREMENT on metric_filters)

Revision ID: metric_filters_0003_ids
"""

from rexwatch.stores.control.autoincrement import rebuild

revision = "metric_filters_0003_ids"
down_revision = "metric_filters_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rebuild("metric_filters")


def downgrade() -> None:
    pass  # AUTOINCREMENT is harmless to keep

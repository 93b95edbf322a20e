"""core: ids never reused (SQLite AUTOINCREMENT on api_keys)

Revision ID: core_0002_ids
"""

from rexwatch.stores.control.autoincrement import rebuild

revision = "core_0002_ids"
down_revision = "core_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rebuild("api_keys")


def downgrade() -> None:
    pass  # AUTOINCREMENT is harmless to keep

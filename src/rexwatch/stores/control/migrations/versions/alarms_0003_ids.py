"""alarms: ids never reused (SQLite AUTOINCREMENT on alarms, alarm_history, alarm_mute_rules)

Revision ID: alarms_0003_ids
"""

from rexwatch.stores.control.autoincrement import rebuild

revision = "alarms_0003_ids"
down_revision = "alarms_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rebuild("alarms", "alarm_history", "alarm_mute_rules")


def downgrade() -> None:
    pass  # AUTOINCREMENT is harmless to keep

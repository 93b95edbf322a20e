"""teams: teams, their members, and the team of log groups and alarms

Revision ID: teams_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "teams_0001"
down_revision = None
branch_labels = ("teams",)
depends_on = ("users_0001", "logs_0002_ids", "alarms_0003_ids")


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", name="uq_teams_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", name="pk_team_members"),
    )
    op.create_index("ix_team_members_user_id", "team_members", ["user_id"])
    # A nullable column is added in place (SQLite too), keeping the tables' AUTOINCREMENT.
    op.add_column("log_groups", sa.Column("team_id", sa.Integer))
    op.create_index("ix_log_groups_team_id", "log_groups", ["team_id"])
    op.add_column("alarms", sa.Column("team_id", sa.Integer))
    op.create_index("ix_alarms_team_id", "alarms", ["team_id"])


def downgrade() -> None:
    op.drop_index("ix_alarms_team_id", "alarms")
    with op.batch_alter_table("alarms") as batch:
        batch.drop_column("team_id")
    op.drop_index("ix_log_groups_team_id", "log_groups")
    with op.batch_alter_table("log_groups") as batch:
        batch.drop_column("team_id")
    op.drop_index("ix_team_members_user_id", "team_members")
    op.drop_table("team_members")
    op.drop_table("teams")

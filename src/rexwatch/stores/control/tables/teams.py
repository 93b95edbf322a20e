"""Teams and their members. Log groups and alarms name their team in their own ``team_id``."""

from sqlalchemy import Column, ForeignKey, Integer, PrimaryKeyConstraint, String, Table

from rexwatch.stores.control.tables import metadata
from rexwatch.stores.control.types import UTCDateTime

teams = Table(
    "teams",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

team_members = Table(
    "team_members",
    metadata,
    Column("team_id", Integer, ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    PrimaryKeyConstraint("team_id", "user_id", name="pk_team_members"),
)

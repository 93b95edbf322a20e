"""Users with passwords and their console sessions."""

from sqlalchemy import Column, Float, ForeignKey, Integer, String, Table

from rexwatch.stores.control.tables import metadata
from rexwatch.stores.control.types import UTCDateTime

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(200), nullable=False, unique=True),
    # An argon2id hash (the algorithm and its parameters are part of the string).
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # Failed logins in a row and, once they pass the limit, until when logins are refused.
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", Float),
    # Set when an admin disables the account: no login, no session, its keys revoked.
    Column("disabled_at", UTCDateTime()),
    sqlite_autoincrement=True,
)

# A session id is only ever stored hashed, like bearer keys.
sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("ip", String(64), nullable=False, server_default=""),
    Column("user_agent", String(300), nullable=False, server_default=""),
)

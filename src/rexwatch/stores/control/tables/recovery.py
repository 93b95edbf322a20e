"""Getting back into an account: users' email addresses and single-use password reset tokens."""

from sqlalchemy import Column, Float, ForeignKey, Integer, String, Table

from rexwatch.stores.control.tables import metadata

# Where a user's reset links are mailed (one address per user; none: no reset by mail).
user_emails = Table(
    "user_emails",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("email", String(254), nullable=False, index=True),
)

# A reset token is kept only as its SHA-256 hash, like sessions and bearer keys.
password_resets = Table(
    "password_resets",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    # Set when the token is redeemed, or when a newer token for the same user replaces it.
    Column("used_at", Float),
)

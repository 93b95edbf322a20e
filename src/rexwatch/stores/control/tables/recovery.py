"""Getting back into an account, and proving it is yours: users' email addresses, single-use password
reset tokens, and the optional TOTP second factor with its recovery codes."""

from sqlalchemy import Column, Float, ForeignKey, Integer, PrimaryKeyConstraint, String, Table, Text

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

# A user's TOTP secret, sealed with the server's secret key. ``enabled_at`` is NULL while the user
# has not yet proven their authenticator holds it; ``last_step`` refuses a code used once already.
user_totp = Table(
    "user_totp",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("secret_enc", Text, nullable=False),
    Column("enabled_at", Float),
    Column("last_step", Integer, nullable=False, server_default="0"),
)

# One-time codes for a lost authenticator, kept as SHA-256 hashes.
totp_recovery_codes = Table(
    "totp_recovery_codes",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("used_at", Float),
    PrimaryKeyConstraint("user_id", "code_hash", name="pk_totp_recovery_codes"),
)

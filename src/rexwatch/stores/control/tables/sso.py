"""Single sign-on identities: which provider account is which rexwatch user."""

from sqlalchemy import JSON, Column, Float, ForeignKey, Integer, String, Table, UniqueConstraint

from rexwatch.stores.control.tables import metadata

sso_identities = Table(
    "sso_identities",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # The configured provider name and the provider's stable subject id (OIDC ``sub``, GitHub's user id):
    # never the e-mail address, which an account can change or give up.
    Column("provider", String(40), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("email", String(320), nullable=False, server_default=""),
    # Team names mapped from the claims at the last login.
    Column("teams", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_login_at", Float, nullable=False),
    UniqueConstraint("provider", "subject", name="uq_sso_identities_provider_subject"),
    sqlite_autoincrement=True,
)

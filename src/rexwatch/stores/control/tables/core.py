"""API keys and worker leases."""

from sqlalchemy import Column, Integer, String, Table, Text

from rexwatch.stores.control.tables import metadata
from rexwatch.stores.control.types import UTCDateTime

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    # 'bearer' keys are stored as a SHA-256 hash; 'aws' keys keep an encrypted
    # secret because SigV4 verification needs the secret itself.
    Column("kind", String(16), nullable=False),
    # viewer, editor or admin (rexwatch.services.access); 'user' keys of old became editors.
    Column("role", String(16), nullable=False, server_default="admin"),
    # Optional narrowing of the role: 'ingest' (agents, SDKs) or 'read' (dashboards like Grafana).
    Column("scope", String(16)),
    # The user the key belongs to; NULL for a service account (its name is the key's name).
    Column("user_id", Integer),
    Column("prefix", String(32), nullable=False, index=True, unique=True),
    Column("key_hash", String(64)),
    Column("secret_enc", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
    sqlite_autoincrement=True,
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

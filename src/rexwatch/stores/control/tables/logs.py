"""Log groups, log streams and tombstones of deleted ones.

Ids are incarnation ids: ``sqlite_autoincrement`` (and PostgreSQL identities)
never hand out an id twice, so a group or stream recreated under the same name
gets a new id and the old incarnation's events stay invisible until the
retention worker removes them (``log_tombstones``).
"""

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from rexwatch.stores.control.tables import metadata

log_groups = Table(
    "log_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(512), nullable=False, unique=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("retention_days", Integer),
    Column("kms_key_id", String(256)),
    Column("log_group_class", String(32), nullable=False, default="STANDARD"),
    Column("deletion_protection", Boolean, nullable=False, default=False),
    Column("tags", Text),
    # {"Fields": [...]} as sent to PutIndexPolicy, and when it was set.
    Column("index_policy", Text),
    Column("index_policy_ms", BigInteger),
    # The team the group belongs to (teams.id); NULL: no team, visible to every caller.
    Column("team_id", Integer, index=True),
    sqlite_autoincrement=True,
)

log_streams = Table(
    "log_streams",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", Integer, ForeignKey("log_groups.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(512), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("group_id", "name", name="uq_log_streams_group_name"),
    sqlite_autoincrement=True,
)

# Deleted groups (stream_id NULL) and streams whose events still await physical removal.
log_tombstones = Table(
    "log_tombstones",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", Integer, nullable=False),
    Column("stream_id", Integer),
    Column("deleted_ms", BigInteger, nullable=False),
    sqlite_autoincrement=True,
)

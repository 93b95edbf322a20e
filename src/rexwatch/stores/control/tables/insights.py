"""Saved Logs Insights queries (PutQueryDefinition)."""

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from rexwatch.stores.control.tables import metadata

query_definitions = Table(
    "query_definitions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False, index=True),
    Column("query_string", Text, nullable=False),
    Column("log_group_names", Text, nullable=False, default="[]"),  # JSON list
    Column("last_modified", BigInteger, nullable=False),  # epoch ms
)

# The console's query history: the queries each user (or key, or browser when auth is off) ran
# from the Insights page, newest kept, so a query can be found and run again.
query_history = Table(
    "query_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(200), nullable=False),
    Column("query_string", Text, nullable=False),
    Column("log_group_names", Text, nullable=False, default="[]"),  # JSON list
    Column("created_at", BigInteger, nullable=False),  # epoch ms
    Index("ix_query_history_owner", "owner", "id"),
    sqlite_autoincrement=True,
)

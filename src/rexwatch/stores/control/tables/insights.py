"""Saved Logs Insights queries (PutQueryDefinition)."""

from sqlalchemy import BigInteger, Column, String, Table, Text

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

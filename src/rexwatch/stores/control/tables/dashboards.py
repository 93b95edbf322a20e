"""Dashboards (PutDashboard): the body is kept exactly as given, as CloudWatch does."""

from sqlalchemy import BigInteger, Column, Integer, String, Table, Text

from rexwatch.stores.control.tables import metadata

dashboards = Table(
    "dashboards",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("body", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("last_modified", BigInteger, nullable=False),  # epoch ms
)

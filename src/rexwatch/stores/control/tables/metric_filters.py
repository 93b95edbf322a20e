"""Metric filters: log group -> filter pattern -> metric transformation.

``group_id`` is the log group's incarnation id (see ``tables/logs.py``): a group
deleted and created again under the same name starts without filters, as in
CloudWatch Logs. Rows of deleted groups are never read again.
"""

from sqlalchemy import BigInteger, Boolean, Column, Integer, String, Table, Text, UniqueConstraint

from rexwatch.stores.control.tables import metadata

metric_filters = Table(
    "metric_filters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", Integer, nullable=False, index=True),
    Column("log_group_name", String(512), nullable=False),
    Column("filter_name", String(512), nullable=False),
    Column("filter_pattern", Text, nullable=False),
    # JSON list of metricTransformations as AWS shapes them.
    Column("transformations", Text, nullable=False),
    Column("apply_on_transformed_logs", Boolean, nullable=False, default=False),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("group_id", "filter_name", name="uq_metric_filters_group_name"),
    sqlite_autoincrement=True,
)

# How far the metric-filter worker has processed the log table: every event with seq <= ``seq`` has
# been evaluated (one row per telemetry database, ``name``).
metric_filter_cursor = Table(
    "metric_filter_cursor",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

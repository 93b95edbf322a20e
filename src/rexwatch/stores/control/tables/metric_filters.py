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
)

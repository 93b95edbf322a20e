"""Metrics: PutMetricData, statistics with percentiles, rollups, metric math and ListMetrics.

``MetricsService`` (``runtime.service(MetricsService)``) is the entry point. It takes
and returns the typed objects of ``model`` (``MetricDatum``, ``MetricDataQuery``,
``MetricDataPage``...) and raises domain errors whose ``field`` is a path such as
``("MetricData", 2, "Value")``; the front doors convert wire shapes and spell paths;
the SQL lives in ``rexwatch.stores.telemetry.metrics``.
``get_statistics_batch`` answers many (series, statistic, period) queries with
one ClickHouse query, for the alarm evaluator.
"""

from rexwatch.services.metrics.model import (
    Datapoint,
    Datum,
    MetricColumns,
    MetricDataPage,
    MetricDataQuery,
    MetricDataResult,
    MetricDatum,
    MetricId,
    MetricInfo,
    MetricStatSpec,
    StatisticSet,
    StatQuery,
)
from rexwatch.services.metrics.service import MetricsService

__all__ = [
    "Datapoint",
    "Datum",
    "MetricColumns",
    "MetricDataPage",
    "MetricDataQuery",
    "MetricDataResult",
    "MetricDatum",
    "MetricId",
    "MetricInfo",
    "MetricStatSpec",
    "MetricsService",
    "StatQuery",
    "StatisticSet",
]

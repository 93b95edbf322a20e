"""Metrics: PutMetricData, statistics with percentiles, rollups, metric math and ListMetrics.

``MetricsService`` (``runtime.service(MetricsService)``) is the entry point;
``get_statistics_batch`` answers many (series, statistic, period) queries with
one ClickHouse query, for the alarm evaluator.
"""

from rexwatch.services.metrics.model import Datapoint, Datum, MetricId, MetricInfo, StatisticSet, StatQuery
from rexwatch.services.metrics.service import MetricsService

__all__ = ["Datapoint", "Datum", "MetricId", "MetricInfo", "MetricsService", "StatQuery", "StatisticSet"]

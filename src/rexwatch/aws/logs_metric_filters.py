"""CloudWatch Logs metric filter operations (the logic is in services/metrics/filters.py)."""

from __future__ import annotations

from typing import Any

from rexwatch.aws.registry import AwsContext, handler
from rexwatch.services.metrics.filters import MetricFilterService


def _svc(ctx: AwsContext) -> MetricFilterService:
    return ctx.runtime.service(MetricFilterService)


@handler("logs", "PutMetricFilter")
def put_metric_filter(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).put_metric_filter(
        p.get("logGroupName") or "",
        p.get("filterName") or "",
        p.get("filterPattern"),
        p.get("metricTransformations") or [],
        apply_on_transformed_logs=bool(p.get("applyOnTransformedLogs")),
    )
    return {}


@handler("logs", "DescribeMetricFilters")
def describe_metric_filters(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    filters, token = _svc(ctx).describe_metric_filters(
        p.get("logGroupName"),
        p.get("filterNamePrefix"),
        p.get("metricName"),
        p.get("metricNamespace"),
        p.get("nextToken"),
        p.get("limit"),
    )
    out: dict[str, Any] = {"metricFilters": filters}
    if token:
        out["nextToken"] = token
    return out


@handler("logs", "DeleteMetricFilter")
def delete_metric_filter(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).delete_metric_filter(p.get("logGroupName") or "", p.get("filterName") or "")
    return {}

"""CloudWatch Logs metric filter operations (the logic is in services/metrics/filters.py)."""

from __future__ import annotations

from typing import Any

from rexwatch.aws.registry import AwsContext, handler
from rexwatch.services.metrics.filter_model import MetricFilter, Transformation
from rexwatch.services.metrics.filters import MetricFilterService


def transformation_in(d: Any) -> Transformation:
    """A MetricTransformation member; the service checks the values (the door checked the types)."""
    if not isinstance(d, dict):
        d = {}
    dims = d.get("dimensions") or {}
    default = d.get("defaultValue")
    if isinstance(default, str):  # JSON's NaN/Infinity spellings: refused by the service's rule
        default = float(default)
    return Transformation(d.get("metricName") or "", d.get("metricNamespace") or "",
                          str(d.get("metricValue") or ""), default,
                          tuple(sorted(dims.items())) if isinstance(dims, dict) else (), d.get("unit"))


def transformation_out(t: Transformation) -> dict[str, Any]:
    out: dict[str, Any] = {"metricName": t.metric_name, "metricNamespace": t.namespace, "metricValue": t.value}
    if t.default_value is not None:
        out["defaultValue"] = t.default_value
    if t.dimensions:
        out["dimensions"] = dict(t.dimensions)
    if t.unit:
        out["unit"] = t.unit
    return out


def metric_filter(f: MetricFilter) -> dict[str, Any]:
    return {"filterName": f.name, "filterPattern": f.pattern,
            "metricTransformations": [transformation_out(t) for t in f.transformations],
            "creationTime": f.created_ms, "logGroupName": f.log_group_name,
            "applyOnTransformedLogs": f.apply_on_transformed_logs}


def _svc(ctx: AwsContext) -> MetricFilterService:
    return ctx.runtime.service(MetricFilterService)


@handler("logs", "PutMetricFilter")
def put_metric_filter(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).put_metric_filter(
        p.get("logGroupName") or "",
        p.get("filterName") or "",
        p.get("filterPattern"),
        [transformation_in(t) for t in p.get("metricTransformations") or []],
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
    out: dict[str, Any] = {"metricFilters": [metric_filter(f) for f in filters]}
    if token:
        out["nextToken"] = token
    return out


@handler("logs", "DeleteMetricFilter")
def delete_metric_filter(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).delete_metric_filter(p.get("logGroupName") or "", p.get("filterName") or "")
    return {}

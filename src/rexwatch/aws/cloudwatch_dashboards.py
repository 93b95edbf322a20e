"""CloudWatch dashboard operations: PutDashboard, GetDashboard, ListDashboards, DeleteDashboards."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rexwatch.aws.registry import AwsContext, handler
from rexwatch.services.dashboards import DashboardsService


def _svc(ctx: AwsContext) -> DashboardsService:
    return ctx.runtime.service(DashboardsService)


@handler("cloudwatch", "PutDashboard")
def put_dashboard(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    warnings = _svc(ctx).put(p.get("DashboardName"), p.get("DashboardBody"))
    return {"DashboardValidationMessages": [{"DataPath": m.data_path, "Message": m.message} for m in warnings]}


@handler("cloudwatch", "GetDashboard")
def get_dashboard(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    d = _svc(ctx).get(p.get("DashboardName"))
    return {"DashboardArn": d.arn, "DashboardBody": d.body, "DashboardName": d.name}


@handler("cloudwatch", "ListDashboards")
def list_dashboards(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    entries, token = _svc(ctx).list(p.get("DashboardNamePrefix"), p.get("NextToken"))
    out: dict[str, Any] = {"DashboardEntries": [
        {"DashboardName": e.name, "DashboardArn": e.arn, "LastModified": dt.datetime.fromtimestamp(e.last_modified_ms / 1000.0, dt.UTC),
         "Size": e.size} for e in entries]}
    if token:
        out["NextToken"] = token
    return out


@handler("cloudwatch", "DeleteDashboards")
def delete_dashboards(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).delete(list(p.get("DashboardNames") or []))
    return {}


@handler("cloudwatch", "GetMetricWidgetImage")
def get_metric_widget_image(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    from rexwatch.services.dashboards.render import render_widget

    # png and image/png both come back as the MetricWidgetImage blob of the protocol's response
    # (SDKs only ever ask for png); image/svg+xml, an extension, puts the SVG document there.
    image, _ = render_widget(ctx.runtime, p.get("MetricWidget"), p.get("OutputFormat"))
    return {"MetricWidgetImage": image}

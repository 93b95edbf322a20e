"""CloudWatch metrics operations over the AWS wire protocols (CBOR, JSON 1.0).

Handlers translate botocore shapes to service calls and back; the rules live
in ``rexwatch.services.metrics``. Alarm operations register in
``aws/cloudwatch_alarms.py``.
"""

from __future__ import annotations

import datetime as dt
from itertools import repeat
from operator import itemgetter
from typing import Any

from rexwatch.aws.registry import AwsContext, handler
from rexwatch.aws.validate import ColumnarParams
from rexwatch.errors import FieldPath, MissingParameter
from rexwatch.services.metrics import (
    MetricColumns,
    MetricDataQuery,
    MetricDatum,
    MetricId,
    MetricsService,
    MetricStatSpec,
    StatisticSet,
)
from rexwatch.services.metrics.put import columns


def _svc(ctx: AwsContext) -> MetricsService:
    return ctx.runtime.service(MetricsService)


def _dims(items: list[dict[str, Any]] | None, prefix: FieldPath = ()) -> list[tuple[str, str]]:
    out = []
    for j, d in enumerate(items or [], 1):
        name, value = d.get("Name"), d.get("Value")
        if not name:
            raise MissingParameter("The parameter {field} is required.", field=(*prefix, "Dimensions", j, "Name"))
        if value is None:
            raise MissingParameter("The parameter {field} is required.", field=(*prefix, "Dimensions", j, "Value"))
        out.append((name, value))
    return out


def _datum(item: dict[str, Any], i: int, shared: dict[tuple, list[tuple[str, str]]] | None = None) -> MetricDatum:
    sv = item.get("StatisticValues")
    stat = None
    if sv is not None:
        for k in ("SampleCount", "Sum", "Minimum", "Maximum"):
            if sv.get(k) is None:
                raise MissingParameter(
                    "The parameter {field} is required.", field=("MetricData", i, "StatisticValues", k)
                )
        stat = StatisticSet(sv["SampleCount"], sv["Sum"], sv["Minimum"], sv["Maximum"])
    dims = _dims(item.get("Dimensions"), ("MetricData", i))
    if shared is not None:
        # Items of one series share one list: the metrics service validates and encodes each list once.
        dims = shared.setdefault(tuple(dims), dims)
    return MetricDatum(
        metric_name=item.get("MetricName"),
        dimensions=dims,
        timestamp=item.get("Timestamp"),
        value=item.get("Value"),
        values=item.get("Values"),
        counts=item.get("Counts"),
        statistic_values=stat,
        unit=item.get("Unit"),
        storage_resolution=item.get("StorageResolution"),
    )


_PLAIN = frozenset({"MetricName", "Dimensions", "Timestamp", "Value", "Values", "Counts", "Unit", "StorageResolution"})
_NAME_VALUE = itemgetter("Name", "Value")


def _columns(items: list[dict[str, Any]], now: dt.datetime) -> MetricColumns | None:
    """The generic codecs' items as the metrics service's columns (its one builder, field by field),
    or None for the per-item path: a member a plain datum has not (a statistic set …), a dimension
    without its name or value, or anything the builder leaves to the per-datum rules."""
    try:
        if not items or not set().union(*map(dict.keys, items)) <= _PLAIN:
            return None
        keys = [tuple(map(_NAME_VALUE, ds)) if ds else () for ds in map(dict.get, items, repeat("Dimensions"))]
    except (KeyError, TypeError):
        return None

    def col(key: str) -> list[Any]:
        return list(map(dict.get, items, repeat(key)))

    return columns(col("MetricName"), keys, col("Timestamp"), col("Value"), col("Values"), col("Counts"),
                   col("Unit"), col("StorageResolution"), [None] * len(items), now=now)


@handler("cloudwatch", "PutMetricData")
def put_metric_data(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    svc = _svc(ctx)
    if isinstance(params, ColumnarParams):
        # A fast reader's columns (nearly every call): no item is ever a dict.
        cols = params.columns(svc.clock())
        if cols is not None:
            svc.put_metric_columns(params["Namespace"], cols)
            return {}
        params = params.materialize()
    items = list(params.get("MetricData") or [])
    for ent in params.get("EntityMetricData") or []:
        items.extend(ent.get("MetricData") or [])
    cols = _columns(items, svc.clock())
    if cols is not None:
        # Plain items (nearly every call): the same rules, checked per column by the service.
        svc.put_metric_columns(params.get("Namespace"), cols)
        return {}
    shared: dict[tuple, list[tuple[str, str]]] = {}
    data = [_datum(item, i, shared) for i, item in enumerate(items, 1)]
    _svc(ctx).put_metric_data(params.get("Namespace"), data)
    return {}


@handler("cloudwatch", "GetMetricStatistics")
def get_metric_statistics(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    metric = MetricId(
        params.get("Namespace") or "", params.get("MetricName") or "", tuple(_dims(params.get("Dimensions")))
    )
    label, points = _svc(ctx).get_metric_statistics(
        metric,
        params.get("StartTime"),
        params.get("EndTime"),
        params.get("Period"),
        params.get("Statistics") or (),
        params.get("ExtendedStatistics") or (),
        params.get("Unit"),
    )
    stats = params.get("Statistics") or ()
    out = []
    for p in points:
        d: dict[str, Any] = {"Timestamp": p.timestamp, "Unit": p.unit}
        for s in stats:
            d[s] = p.statistic(s)
        if params.get("ExtendedStatistics"):
            d["ExtendedStatistics"] = dict(p.percentiles)
        out.append(d)
    return {"Label": label, "Datapoints": out}


@handler("cloudwatch", "ListMetrics")
def list_metrics(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    # A filter may name a dimension without a value; the service checks the names.
    filters = [(d.get("Name") or "", d.get("Value")) for d in params.get("Dimensions") or []]
    infos, token = _svc(ctx).list_metrics(
        params.get("Namespace"),
        params.get("MetricName"),
        filters,
        params.get("RecentlyActive"),
        params.get("NextToken"),
    )
    result: dict[str, Any] = {
        "Metrics": [
            {
                "Namespace": m.namespace,
                "MetricName": m.metric_name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in m.dimensions],
            }
            for m in infos
        ]
    }
    if token:
        result["NextToken"] = token
    return result


def _metric_query(q: dict[str, Any], i: int) -> MetricDataQuery:
    ms = q.get("MetricStat")
    spec = None
    if ms is not None:
        metric = ms.get("Metric") or {}
        spec = MetricStatSpec(
            MetricId(
                metric.get("Namespace") or "",
                metric.get("MetricName") or "",
                tuple(_dims(metric.get("Dimensions"), ("MetricDataQueries", i, "MetricStat", "Metric"))),
            ),
            ms.get("Period"),
            ms.get("Stat") or "",
            ms.get("Unit"),
        )
    return MetricDataQuery(
        id=q.get("Id") or "",
        metric_stat=spec,
        expression=q.get("Expression"),
        label=q.get("Label"),
        return_data=q.get("ReturnData", True),
        period=q.get("Period"),
    )


@handler("cloudwatch", "GetMetricData")
def get_metric_data(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    queries = [_metric_query(q, i) for i, q in enumerate(params.get("MetricDataQueries") or [], 1)]
    page = _svc(ctx).get_metric_data(
        queries,
        params.get("StartTime"),
        params.get("EndTime"),
        scan_by=params.get("ScanBy") or "TimestampDescending",
        max_datapoints=params.get("MaxDatapoints"),
        next_token=params.get("NextToken"),
    )
    out: dict[str, Any] = {
        "MetricDataResults": [
            {
                "Id": r.id,
                "Label": r.label,
                "Timestamps": r.timestamps,
                "Values": r.values,
                "StatusCode": r.status,
                **({"Messages": r.messages} if r.messages else {}),
            }
            for r in page.results
        ],
        "Messages": page.messages,
    }
    if page.next_token:
        out["NextToken"] = page.next_token
    return out

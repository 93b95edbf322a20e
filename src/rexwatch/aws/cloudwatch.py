"""CloudWatch metrics operations over the AWS wire protocols (CBOR, JSON 1.0).

Handlers translate botocore shapes to service calls and back; the rules live
in ``rexwatch.services.metrics``. Alarm operations register in
``aws/cloudwatch_alarms.py``.
"""

from __future__ import annotations

import datetime as dt
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
from rexwatch.services.metrics.model import FUTURE_LIMIT, PAST_LIMIT


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


def _numbers(xs: object) -> bool:
    return type(xs) is list and all(type(x) is float or type(x) is int for x in xs)


def _columns(items: list[dict[str, Any]], now: dt.datetime) -> MetricColumns | None:
    """The items as the metrics service's columns, read straight from the parameters: what
    ``_datum`` and the service's ``as_columns`` make of them, in one pass. None for any item
    that needs the per-item path (its checks and messages): a statistic set, a dimension without
    its name or value, or anything ``as_columns`` hands to the per-datum rules."""
    if not items:
        return None
    oldest, newest = now - PAST_LIMIT, now + FUTURE_LIMIT
    now_ms = int(now.timestamp() * 1000)
    shared: dict[tuple, list[tuple[str, str]]] = {}
    names, dims, times, units, values, counts, offsets, singles, res = [], [], [], [], [], [], [0], [], []
    for item in items:
        if not item.keys() <= _PLAIN:
            return None
        name, unit, r = item.get("MetricName"), item.get("Unit"), item.get("StorageResolution")
        if (name is not None and type(name) is not str) or (unit is not None and type(unit) is not str):
            return None
        if r not in (None, 1, 60) or type(r) is bool:
            return None
        value, vs, cs = item.get("Value"), item.get("Values"), item.get("Counts")
        if value is not None:
            if vs is not None or cs is not None or not (type(value) is float or type(value) is int):
                return None
            values.append(value)
            counts.append(1.0)
            singles.append(True)
        elif vs is not None:
            if not _numbers(vs) or (cs is not None and (not _numbers(cs) or len(cs) != len(vs))):
                return None
            values.extend(vs)
            counts.extend(cs if cs else [1.0] * len(vs))
            singles.append(False)
        else:
            return None
        ts = item.get("Timestamp")
        if ts is None:
            times.append(now_ms)
        else:
            if type(ts) is not dt.datetime:
                return None
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=dt.UTC)
            if ts < oldest or ts > newest:
                return None
            times.append(int(ts.timestamp() * 1000))
        try:
            key = tuple((d["Name"], d["Value"]) for d in item.get("Dimensions") or ())
        except (KeyError, TypeError):
            return None
        d = shared.get(key)
        if d is None:
            if not all(n and v is not None for n, v in key):
                return None
            try:
                d = shared[key] = list(key)
            except TypeError:  # unhashable parts
                return None
        dims.append(d)
        names.append(name)
        units.append(unit)
        offsets.append(len(values))
        res.append(60 if r is None else r)
    return MetricColumns(names, dims, times, units, values, counts, offsets, res, singles)


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

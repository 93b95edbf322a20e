"""Metrics over REST: put datapoints, statistics, GetMetricData-style queries and the series list.

Shapes follow CloudWatch's operations with snake_case names; the same
service and rules serve the AWS door.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from rexwatch.api.auth import get_runtime
from rexwatch.errors import FieldPath, Invalid, RexwatchError
from rexwatch.runtime import Runtime
from rexwatch.services.metrics import (
    MetricDataQuery,
    MetricDatum,
    MetricId,
    MetricsService,
    MetricStatSpec,
    StatisticSet,
)
from rexwatch.timeparse import parse_time

router = APIRouter(prefix="/metrics", tags=["metrics"])


class Dimension(BaseModel):
    name: str
    value: str


class StatisticValuesIn(BaseModel):
    sample_count: float
    sum: float
    minimum: float
    maximum: float


class DatumIn(BaseModel):
    metric_name: str | None = None
    dimensions: list[Dimension] = Field(default_factory=list)
    timestamp: str | float | None = Field(None, description="ISO-8601, epoch s/ms or relative (5m)")
    value: float | None = None
    values: list[float] | None = None
    counts: list[float] | None = None
    statistic_values: StatisticValuesIn | None = None
    unit: str | None = None
    storage_resolution: int | None = None


class PutIn(BaseModel):
    namespace: str | None = None
    metric_data: list[DatumIn]


class MetricOut(BaseModel):
    namespace: str
    metric_name: str
    dimensions: list[Dimension]
    last_seen: dt.datetime | None = None


class MetricStatIn(BaseModel):
    namespace: str
    metric_name: str
    dimensions: list[Dimension] = Field(default_factory=list)
    period: int
    stat: str
    unit: str | None = None


class QueryIn(BaseModel):
    id: str
    metric_stat: MetricStatIn | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = True


class DataIn(BaseModel):
    queries: list[QueryIn]
    start: str | float
    end: str | float = "now"
    scan_by: str = "TimestampDescending"
    max_datapoints: int | None = None
    next_token: str | None = None


def _svc(rt: Runtime) -> MetricsService:
    return rt.service(MetricsService)


# Domain field names that the REST bodies spell differently (None: no level of their own).
_REST_NAMES: dict[str, str | None] = {"MetricDataQueries": "queries", "Metric": None}


def _rest_path(path: FieldPath) -> FieldPath:
    """A service's field path in this router's spelling: snake_case members, 0-based positions."""
    out: list[str | int] = []
    for part in path:
        if isinstance(part, int):
            out.append(part - 1)
            continue
        name = _REST_NAMES.get(part, re.sub(r"(?<!^)(?=[A-Z])", "_", part).lower())
        if name is not None:
            out.append(name)
    return tuple(out)


@contextmanager
def _spelled() -> Iterator[None]:
    """Re-spell the field of a domain error in the REST bodies' names (``metric_data[1].unit``)."""
    try:
        yield
    except RexwatchError as e:
        if e.field_path:
            e.field_path = _rest_path(e.field_path)
            e.message = e.render()
            e.args = (e.message,)
        raise


def _time(value: str | float | None, field: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except Invalid as e:
        raise Invalid(f"{field}: {e.message}", field=field)


def _dim_args(items: list[str]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for raw in items:
        name, sep, value = raw.partition("=")
        if not name:
            raise Invalid(f"dimension {raw!r} is not Name=Value", field="dimension")
        out.append((name, value if sep else None))
    return out


@router.post("/data", status_code=200)
def put_metric_data(body: PutIn, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    data = [
        MetricDatum(
            d.metric_name,
            [(x.name, x.value) for x in d.dimensions],
            _time(d.timestamp, f"metric_data[{i}].timestamp"),
            d.value,
            d.values,
            d.counts,
            StatisticSet(**{k: v for k, v in d.statistic_values.model_dump().items()})
            if d.statistic_values
            else None,
            d.unit,
            d.storage_resolution,
        )
        for i, d in enumerate(body.metric_data)
    ]
    with _spelled():
        rows = _svc(rt).put_metric_data(body.namespace, data)
    return {"accepted": len(data), "rows": rows}


@router.get("/statistics")
def get_metric_statistics(
    namespace: str,
    metric_name: str,
    start: str,
    end: str = "now",
    period: int = 60,
    dimension: list[str] = Query(default_factory=list, description="Name=Value, repeatable"),
    statistics: list[str] = Query(default_factory=list),
    extended_statistics: list[str] = Query(default_factory=list),
    unit: str | None = None,
    rt: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    dims = _dim_args(dimension)
    if any(v is None for _, v in dims):
        raise Invalid("dimensions of a statistics query are Name=Value", field="dimension")
    if not statistics and not extended_statistics:
        statistics = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"]
    with _spelled():
        label, points = _svc(rt).get_metric_statistics(
            MetricId(namespace, metric_name, tuple((k, v or "") for k, v in dims)),
            _time(start, "start"),
            _time(end, "end"),
            period,
            statistics,
            extended_statistics,
            unit,
        )
    return {
        "label": label,
        "datapoints": [
            {
                "timestamp": p.timestamp,
                "unit": p.unit,
                **{s: p.statistic(s) for s in statistics},
                **({"extended_statistics": p.percentiles} if extended_statistics else {}),
            }
            for p in points
        ],
    }


@router.post("/query")
def get_metric_data(body: DataIn, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    queries = []
    for q in body.queries:
        spec = None
        if q.metric_stat is not None:
            m = q.metric_stat
            spec = MetricStatSpec(
                MetricId(m.namespace, m.metric_name, tuple((d.name, d.value) for d in m.dimensions)),
                m.period,
                m.stat,
                m.unit,
            )
        queries.append(MetricDataQuery(q.id, spec, q.expression, q.label, q.return_data))
    with _spelled():
        page = _svc(rt).get_metric_data(
            queries,
            _time(body.start, "start"),
            _time(body.end, "end"),
            scan_by=body.scan_by,
            max_datapoints=body.max_datapoints,
            next_token=body.next_token,
        )
    return {
        "results": [
            {"id": r.id, "label": r.label, "timestamps": r.timestamps, "values": r.values, "status": r.status}
            for r in page.results
        ],
        "next_token": page.next_token,
    }


@router.get("", response_model=dict)
def list_metrics(
    namespace: str | None = None,
    metric_name: str | None = None,
    dimension: list[str] = Query(default_factory=list, description="Name or Name=Value, repeatable"),
    recently_active: bool = False,
    next_token: str | None = None,
    rt: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    infos, token = _svc(rt).list_metrics(
        namespace, metric_name, _dim_args(dimension), "PT3H" if recently_active else None, next_token
    )
    return {
        "metrics": [
            MetricOut(
                namespace=m.namespace,
                metric_name=m.metric_name,
                dimensions=[Dimension(name=k, value=v) for k, v in m.dimensions],
                last_seen=m.last_seen,
            ).model_dump(mode="json")
            for m in infos
        ],
        "next_token": token,
    }

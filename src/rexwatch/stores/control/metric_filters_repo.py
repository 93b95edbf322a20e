"""Metric filter definitions and the filter worker's cursor (the only SQL of metric filters)."""

from __future__ import annotations

import time
from typing import Any

import orjson
from sqlalchemy import Engine, delete, insert, select, update

from rexwatch.services.metrics.filter_model import MetricFilter, Transformation
from rexwatch.stores.control.tables.metric_filters import metric_filter_cursor, metric_filters
from rexwatch.stores.control.types import has_prefix

# Transformations are stored as JSON objects with the keys below (the AWS member names, which
# rows written by earlier versions use too).


def _dump(t: Transformation) -> dict[str, Any]:
    out: dict[str, Any] = {"metricName": t.metric_name, "metricNamespace": t.namespace, "metricValue": t.value}
    if t.default_value is not None:
        out["defaultValue"] = t.default_value
    if t.dimensions:
        out["dimensions"] = dict(t.dimensions)
    if t.unit:
        out["unit"] = t.unit
    return out


def _load(d: dict[str, Any]) -> Transformation:
    default = d.get("defaultValue")
    return Transformation(d["metricName"], d["metricNamespace"], str(d["metricValue"]),
                          None if default is None else float(default),
                          tuple(sorted((d.get("dimensions") or {}).items())), d.get("unit"))


def _row(r) -> MetricFilter:
    return MetricFilter(r.group_id, r.log_group_name, r.filter_name, r.filter_pattern,
                        tuple(_load(t) for t in orjson.loads(r.transformations)),
                        bool(r.apply_on_transformed_logs), r.created_ms)


class MetricFiltersRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def upsert(self, f: MetricFilter) -> bool:
        """Create or replace; True when it replaced an existing filter."""
        values = {
            "log_group_name": f.log_group_name,
            "filter_pattern": f.pattern,
            "transformations": orjson.dumps([_dump(t) for t in f.transformations]).decode(),
            "apply_on_transformed_logs": f.apply_on_transformed_logs,
        }
        key = (metric_filters.c.group_id == f.group_id) & (metric_filters.c.filter_name == f.name)
        with self.engine.begin() as conn:
            done = conn.execute(update(metric_filters).where(key).values(**values)).rowcount
            if not done:
                conn.execute(insert(metric_filters).values(group_id=f.group_id, filter_name=f.name,
                                                           created_ms=f.created_ms, **values))
        return bool(done)

    def delete(self, group_id: int, filter_name: str) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(metric_filters).where(
                (metric_filters.c.group_id == group_id) & (metric_filters.c.filter_name == filter_name)
            )).rowcount)

    def for_group(self, group_id: int) -> list[MetricFilter]:
        return self.for_groups([group_id], None)

    def for_groups(self, group_ids: list[int] | None, prefix: str | None) -> list[MetricFilter]:
        q = select(metric_filters).order_by(metric_filters.c.log_group_name, metric_filters.c.filter_name)
        if group_ids is not None:
            q = q.where(metric_filters.c.group_id.in_(group_ids))
        if prefix:
            q = q.where(has_prefix(metric_filters.c.filter_name, prefix))
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(q).all()]

    def group_ids(self) -> set[int]:
        """Groups that have at least one metric filter."""
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(select(metric_filters.c.group_id).distinct())}

    # The worker's high-water mark --------------------------------------------------------------

    def cursor(self, name: str) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(select(metric_filter_cursor.c.seq).where(
                metric_filter_cursor.c.name == name)).scalar_one_or_none()

    def save_cursor(self, name: str, seq: int) -> None:
        now = time.time_ns() // 1_000_000
        with self.engine.begin() as conn:
            done = conn.execute(update(metric_filter_cursor).where(metric_filter_cursor.c.name == name)
                                .values(seq=seq, updated_ms=now)).rowcount
            if not done:
                conn.execute(insert(metric_filter_cursor).values(name=name, seq=seq, updated_ms=now))

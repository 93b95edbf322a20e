"""Metric filter definitions in the control store (the only SQL of metric filters)."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import Engine, delete, func, insert, select, update

from rexwatch.stores.control.tables.metric_filters import metric_filters


@dataclass(frozen=True)
class FilterRow:
    group_id: int
    log_group_name: str
    filter_name: str
    filter_pattern: str
    transformations: list[dict]
    apply_on_transformed_logs: bool
    created_ms: int


def _row(r) -> FilterRow:
    return FilterRow(
        r.group_id,
        r.log_group_name,
        r.filter_name,
        r.filter_pattern,
        orjson.loads(r.transformations),
        bool(r.apply_on_transformed_logs),
        r.created_ms,
    )


class FilterStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def count(self, group_id: int) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(metric_filters).where(metric_filters.c.group_id == group_id)
            ).scalar_one()

    def upsert(self, row: FilterRow) -> bool:
        """Create or replace; True when it replaced an existing filter."""
        values = {
            "log_group_name": row.log_group_name,
            "filter_pattern": row.filter_pattern,
            "transformations": orjson.dumps(row.transformations).decode(),
            "apply_on_transformed_logs": row.apply_on_transformed_logs,
        }
        key = (metric_filters.c.group_id == row.group_id) & (metric_filters.c.filter_name == row.filter_name)
        with self.engine.begin() as conn:
            done = conn.execute(update(metric_filters).where(key).values(**values)).rowcount
            if not done:
                conn.execute(
                    insert(metric_filters).values(
                        group_id=row.group_id,
                        filter_name=row.filter_name,
                        created_ms=row.created_ms,
                        **values,
                    )
                )
        return bool(done)

    def delete(self, group_id: int, filter_name: str) -> bool:
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    delete(metric_filters).where(
                        (metric_filters.c.group_id == group_id)
                        & (metric_filters.c.filter_name == filter_name)
                    )
                ).rowcount
            )

    def for_group(self, group_id: int) -> list[FilterRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(metric_filters)
                .where(metric_filters.c.group_id == group_id)
                .order_by(metric_filters.c.filter_name)
            ).all()
        return [_row(r) for r in rows]

    def for_groups(self, group_ids: list[int] | None, prefix: str | None) -> list[FilterRow]:
        q = select(metric_filters).order_by(metric_filters.c.log_group_name, metric_filters.c.filter_name)
        if group_ids is not None:
            q = q.where(metric_filters.c.group_id.in_(group_ids))
        if prefix:
            q = q.where(metric_filters.c.filter_name.startswith(prefix, autoescape=True))
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(q).all()]

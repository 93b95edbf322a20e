"""Dashboards in the control store (the only SQL about them)."""

from __future__ import annotations

from sqlalchemy import Engine, delete, insert, select, update

from rexwatch.stores.control.tables.dashboards import dashboards as d
from rexwatch.stores.control.types import has_prefix


class DashboardsRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, name: str, body: str, now_ms: int) -> None:
        values = {"body": body, "size": len(body.encode()), "last_modified": now_ms}
        with self.engine.begin() as conn:
            if not conn.execute(update(d).where(d.c.name == name).values(**values)).rowcount:
                conn.execute(insert(d).values(name=name, **values))

    def get(self, name: str) -> tuple[str, int] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(d.c.body, d.c.last_modified).where(d.c.name == name)).first()
        return (r.body, r.last_modified) if r else None

    def list(self, prefix: str | None, after: str | None, limit: int) -> list[tuple[str, int, int]]:
        q = select(d.c.name, d.c.last_modified, d.c.size).order_by(d.c.name)
        if prefix:
            q = q.where(has_prefix(d.c.name, prefix))
        if after is not None:
            q = q.where(d.c.name > after)
        with self.engine.connect() as conn:
            return [(r.name, r.last_modified, r.size) for r in conn.execute(q.limit(limit))]

    def existing(self, names: list[str]) -> set[str]:
        with self.engine.connect() as conn:
            return {r.name for r in conn.execute(select(d.c.name).where(d.c.name.in_(names)))}

    def delete_all(self, names: list[str]) -> set[str]:
        """Delete every named dashboard, or none: returns the names that do not exist."""
        with self.engine.begin() as conn:
            found = {r.name for r in conn.execute(select(d.c.name).where(d.c.name.in_(names)))}
            missing = set(names) - found
            if not missing:
                conn.execute(delete(d).where(d.c.name.in_(names)))
            return missing

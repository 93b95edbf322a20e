"""Saved query definitions in the control store (the only SQL about them)."""

from __future__ import annotations

import uuid

import orjson
from sqlalchemy import Engine, delete, insert, select, update

from rexwatch.services.insights.model import QueryDefinition
from rexwatch.stores.control.tables.insights import query_definitions as qd
from rexwatch.stores.control.types import has_prefix


def _row(r) -> QueryDefinition:
    return QueryDefinition(r.id, r.name, r.query_string, r.last_modified, orjson.loads(r.log_group_names))


class InsightsRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, def_id: str | None, name: str, query: str, groups: list[str], now_ms: int) -> str | None:
        """Create (def_id None) or update; returns the id, or None when def_id does not exist."""
        values = {"name": name, "query_string": query, "log_group_names": orjson.dumps(groups).decode(),
                  "last_modified": now_ms}
        with self.engine.begin() as conn:
            if def_id is None:
                def_id = str(uuid.uuid4())
                conn.execute(insert(qd).values(id=def_id, **values))
                return def_id
            done = conn.execute(update(qd).where(qd.c.id == def_id).values(**values)).rowcount
            return def_id if done else None

    def list(self, prefix: str | None, after: str | None, limit: int) -> list[QueryDefinition]:
        q = select(qd).order_by(qd.c.name, qd.c.id)
        if prefix:
            q = q.where(has_prefix(qd.c.name, prefix))
        if after:
            name, _, ident = after.partition("\x00")
            q = q.where((qd.c.name > name) | ((qd.c.name == name) & (qd.c.id > ident)))
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(q.limit(limit)).all()]

    def delete(self, def_id: str) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(qd).where(qd.c.id == def_id)).rowcount)

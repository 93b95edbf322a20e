"""Saved query definitions in the control store (the only SQL about them)."""

from __future__ import annotations

import uuid

import orjson
from sqlalchemy import Engine, delete, func, insert, select, update

from rexwatch.services.insights.model import HistoryEntry, QueryDefinition
from rexwatch.stores.control.tables.insights import query_definitions as qd
from rexwatch.stores.control.tables.insights import query_history as qh
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

    # -- the console's query history ------------------------------------------------------------------
    def add_history(self, owner: str, query: str, groups: list[str], now_ms: int, keep: int) -> None:
        """Record a run and drop the owner's entries past the newest ``keep``."""
        with self.engine.begin() as conn:
            conn.execute(insert(qh).values(owner=owner, query_string=query, created_at=now_ms,
                                           log_group_names=orjson.dumps(groups).decode()))
            n = conn.execute(select(func.count()).select_from(qh).where(qh.c.owner == owner)).scalar_one()
            if n > keep:
                cut = conn.execute(select(qh.c.id).where(qh.c.owner == owner).order_by(qh.c.id.desc())
                                   .offset(keep).limit(1)).scalar_one()
                conn.execute(delete(qh).where((qh.c.owner == owner) & (qh.c.id <= cut)))

    def history(self, owner: str, limit: int) -> list[HistoryEntry]:
        q = select(qh).where(qh.c.owner == owner).order_by(qh.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [HistoryEntry(r.id, r.query_string, orjson.loads(r.log_group_names), r.created_at)
                    for r in conn.execute(q).all()]

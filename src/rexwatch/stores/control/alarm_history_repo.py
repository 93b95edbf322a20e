"""Control-store access for alarm history (SQLAlchemy Core): the only SQL on ``alarm_history``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, or_, select

from rexwatch.services.alarms.model import HistoryItem
from rexwatch.stores.control.tables.alarms import alarm_history, alarms


class AlarmHistoryRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Rows with ``alarm_name, alarm_type, timestamp, item_type, summary, data``; one executemany."""
        if rows:
            conn.execute(insert(alarm_history), list(rows))

    def describe(
        self,
        *,
        name: str | None,
        types: Sequence[str] | None,
        item_type: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        after: int | None,
        ascending: bool,
        limit: int,
        teams: frozenset[int] | None = None,
    ) -> tuple[list[HistoryItem], int | None]:
        """A page of items by id (newest first unless ``ascending``) and the id to continue after.
        ``teams``: only items of existing alarms of no team or of one of these (None: every item)."""
        h = alarm_history.c
        q = select(alarm_history)
        if teams is not None:
            q = q.where(h.alarm_name.in_(select(alarms.c.name).where(
                or_(alarms.c.team_id.is_(None), alarms.c.team_id.in_(sorted(teams))))))
        if name:
            q = q.where(h.alarm_name == name)
        if types:
            q = q.where(h.alarm_type.in_(list(types)))
        if item_type:
            q = q.where(h.item_type == item_type)
        if start:
            q = q.where(h.timestamp >= start)
        if end:
            q = q.where(h.timestamp <= end)
        if after is not None:
            q = q.where(h.id > after if ascending else h.id < after)
        q = q.order_by(h.id.asc() if ascending else h.id.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        items = [
            HistoryItem(r.alarm_name, r.alarm_type, r.timestamp, r.item_type, r.summary, r.data)
            for r in rows[:limit]
        ]
        return items, (rows[limit - 1].id if len(rows) > limit else None)

    def prune(self, before: dt.datetime) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(alarm_history).where(alarm_history.c.timestamp < before)).rowcount

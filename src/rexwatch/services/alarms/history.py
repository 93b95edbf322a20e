"""DescribeAlarmHistory and history retention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, select

from rexwatch.errors import Invalid
from rexwatch.services.alarms.common import (
    HISTORY_DAYS,
    HISTORY_TYPES,
    _aware,
    _token,
    _ts,
    _untoken,
)
from rexwatch.services.alarms.model import (
    HistoryItem,
)
from rexwatch.stores.control.tables.alarms import alarm_history


class HistoryMixin:
    """Part of ``AlarmsService``; see ``service.py``."""

    # ------------------------------------------------------------ DescribeAlarmHistory

    def prune_history(self, now: float, keep_days: int = HISTORY_DAYS) -> int:
        """Drop history older than ``keep_days`` (CloudWatch keeps 30 days)."""
        with self.engine.begin() as conn:
            return conn.execute(
                delete(alarm_history).where(alarm_history.c.timestamp < _ts(now - keep_days * 86400))
            ).rowcount

    def describe_history(
        self,
        *,
        name: str | None = None,
        types: Sequence[str] | None = None,
        item_type: str | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        max_records: int | None = None,
        next_token: str | None = None,
        ascending: bool = False,
    ) -> tuple[list[HistoryItem], str | None]:
        if item_type is not None and item_type not in HISTORY_TYPES:
            raise Invalid(
                f"HistoryItemType must be one of {', '.join(HISTORY_TYPES)}", field="HistoryItemType"
            )
        limit = int(max_records or 100)
        if not 1 <= limit <= 100:
            raise Invalid("MaxRecords must be between 1 and 100", field="MaxRecords")
        q = select(alarm_history)
        if name:
            q = q.where(alarm_history.c.alarm_name == name)
        if types:
            q = q.where(alarm_history.c.alarm_type.in_(list(types)))
        if item_type:
            q = q.where(alarm_history.c.item_type == item_type)
        if start:
            q = q.where(alarm_history.c.timestamp >= _aware(start))
        if end:
            q = q.where(alarm_history.c.timestamp <= _aware(end))
        after = _untoken(next_token)
        if after is not None:
            q = q.where(alarm_history.c.id > after if ascending else alarm_history.c.id < after)
        q = q.order_by(alarm_history.c.id.asc() if ascending else alarm_history.c.id.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        items = [
            HistoryItem(r.alarm_name, r.alarm_type, r.timestamp, r.item_type, r.summary, r.data)
            for r in rows[:limit]
        ]
        return items, (_token(rows[limit - 1].id) if len(rows) > limit else None)

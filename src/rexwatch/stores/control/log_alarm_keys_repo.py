"""Control-store access for the per-key states of log alarms (SQLAlchemy Core).

Methods take the caller's connection so key states commit with the alarm's own
transition, history and outbox rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, select, update

from rexwatch.services.alarms.model import LogAlarmKey
from rexwatch.stores.control.tables.security import log_alarm_keys as t


def _key(r) -> LogAlarmKey:
    return LogAlarmKey(r.alarm_name, r.key, r.state, r.value, dict(r.row or {}), r.since, r.updated_at)


class LogAlarmKeysRepo:
    def of(self, conn: Connection, alarm_name: str) -> dict[str, LogAlarmKey]:
        q = select(t).where(t.c.alarm_name == alarm_name).order_by(t.c.key)
        return {r.key: _key(r) for r in conn.execute(q)}

    def add(self, conn: Connection, k: LogAlarmKey) -> None:
        conn.execute(
            insert(t).values(
                alarm_name=k.alarm_name,
                key=k.key,
                state=k.state,
                value=k.value,
                row=k.row,
                since=k.since,
                updated_at=k.updated_at,
            )
        )

    def touch(self, conn: Connection, alarm_name: str, key: str, value: float, row: dict, now: float) -> None:
        conn.execute(
            update(t)
            .where(t.c.alarm_name == alarm_name, t.c.key == key)
            .values(value=value, row=row, updated_at=now)
        )

    def remove(self, conn: Connection, alarm_name: str, keys: Sequence[str]) -> None:
        if keys:
            conn.execute(delete(t).where(t.c.alarm_name == alarm_name, t.c.key.in_(list(keys))))

    def remove_alarm(self, conn: Connection, names: Sequence[str]) -> None:
        conn.execute(delete(t).where(t.c.alarm_name.in_(list(names))))

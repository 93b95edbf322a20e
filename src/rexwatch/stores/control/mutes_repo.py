"""Control-store access for alarm mute rules (SQLAlchemy Core): the only SQL on ``alarm_mute_rules``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from rexwatch.services.alarms.model import Tag
from rexwatch.stores.control.alarms_repo import tags_from_json, tags_to_json
from rexwatch.stores.control.tables.alarms import alarm_mute_rules


@dataclass
class StoredMuteRule:
    """A mute rule as stored; the service derives its status from the schedule."""

    name: str
    description: str | None
    expression: str
    duration: str
    timezone: str
    alarm_names: list[str]
    start_date: dt.datetime | None
    expire_date: dt.datetime | None
    tags: list[Tag]
    updated_at: dt.datetime


def _rule(r: Any) -> StoredMuteRule:
    return StoredMuteRule(
        r.name,
        r.description,
        r.expression,
        r.duration,
        r.timezone,
        list(r.alarm_names or []),
        r.start_date,
        r.expire_date,
        tags_from_json(r.tags),
        r.updated_at,
    )


class MutesRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def all(self, conn: Connection, *, after: str | None = None) -> list[StoredMuteRule]:
        q = select(alarm_mute_rules).order_by(alarm_mute_rules.c.name)
        if after:
            q = q.where(alarm_mute_rules.c.name > after)
        return [_rule(r) for r in conn.execute(q)]

    def get(self, conn: Connection, name: str) -> StoredMuteRule | None:
        r = conn.execute(select(alarm_mute_rules).where(alarm_mute_rules.c.name == name)).first()
        return None if r is None else _rule(r)

    def put(self, rule: StoredMuteRule) -> None:
        values = dict(
            description=rule.description,
            expression=rule.expression,
            duration=rule.duration,
            timezone=rule.timezone,
            alarm_names=list(rule.alarm_names),
            start_date=rule.start_date,
            expire_date=rule.expire_date,
            tags=tags_to_json(rule.tags),
            updated_at=rule.updated_at,
        )
        t = alarm_mute_rules
        with self.engine.begin() as conn:
            found = conn.execute(select(t.c.id).where(t.c.name == rule.name)).first()
            if found:
                conn.execute(update(t).where(t.c.id == found.id).values(**values))
            else:
                conn.execute(insert(t).values(name=rule.name, **values))

    def delete(self, name: str) -> bool:
        with self.engine.begin() as conn:
            return bool(
                conn.execute(delete(alarm_mute_rules).where(alarm_mute_rules.c.name == name)).rowcount
            )

    def set_tags(self, conn: Connection, name: str, tags: Sequence[Tag]) -> None:
        conn.execute(
            update(alarm_mute_rules).where(alarm_mute_rules.c.name == name).values(tags=tags_to_json(tags))
        )

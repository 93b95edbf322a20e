"""API keys in the control store (the only SQL about them). Rows come back as SQLAlchemy rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, insert, select, update

from rexwatch.stores.control.tables.core import api_keys as k


class KeysRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert(self, **values: Any) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(insert(k).values(**values)).inserted_primary_key[0])

    def all(self, include_revoked: bool) -> list[Any]:
        q = select(k).order_by(k.c.id)
        if not include_revoked:
            q = q.where(k.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def revoke_matching(self, pick: Any, now: dt.datetime) -> Any:
        """Revoke the one active key ``pick(rows)`` chooses (it raises when none or several match)."""
        with self.engine.begin() as conn:
            rows = list(conn.execute(select(k).where(k.c.revoked_at.is_(None))))
            row = pick(rows)
            conn.execute(update(k).where(k.c.id == row.id).values(revoked_at=now))
            return row

    def any_active(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(k.c.id).where(k.c.revoked_at.is_(None)).limit(1)).first() is not None

    def active(self, prefix: str, kind: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(
                select(k).where(k.c.prefix == prefix, k.c.kind == kind, k.c.revoked_at.is_(None))
            ).first()

    def touch(self, prefix: str, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(k).where(k.c.prefix == prefix).values(last_used_at=now))

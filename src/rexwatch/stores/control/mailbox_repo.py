"""The development mailbox's SQL: keep a mail, list, read, trim to the newest ``keep``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select

from rexwatch.stores.control.tables.notify import notify_mailbox as M
from rexwatch.stores.control.types import as_id


class MailboxRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def keep(self, *, message_id: str, kind: str, to_addr: str, subject: str, raw: str, keep: int) -> int:
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            mail_id = conn.execute(insert(M).values(message_id=message_id, kind=kind, to_addr=to_addr,
                                                    subject=subject, raw=raw, created_at=now)
                                   ).inserted_primary_key[0]
            # Bounded: the oldest go once more than ``keep`` are held.
            cut = conn.execute(select(M.c.id).order_by(M.c.id.desc()).offset(keep).limit(1)).scalar()
            if cut is not None:
                conn.execute(delete(M).where(M.c.id <= cut))
        return int(mail_id)

    def list(self, limit: int, to_addr: str | None = None) -> list[dict[str, Any]]:
        q = select(M.c.id, M.c.message_id, M.c.kind, M.c.to_addr, M.c.subject, M.c.created_at)
        if to_addr:
            q = q.where(func.lower(M.c.to_addr) == to_addr.lower())
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q.order_by(M.c.id.desc()).limit(limit))]

    def get(self, mail_id: int | None) -> dict[str, Any] | None:
        if mail_id is not None and as_id(mail_id) is None:
            return None  # no row has that id; the driver would raise OverflowError past 64 bits
        q = select(M)
        q = q.where(M.c.id == mail_id) if mail_id is not None else q.order_by(M.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return dict(row._mapping) if row else None

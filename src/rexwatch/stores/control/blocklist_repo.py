"""Control-store access for the IP blocklist and allowlist (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, insert, select, update

from rexwatch.stores.control.tables.security import allowlist, blocklist


@dataclass
class BlockRow:
    cidr: str
    reason: str
    alarm_name: str | None
    added_by: str
    created_at: float
    expires_at: float | None


@dataclass
class AllowRow:
    cidr: str
    note: str
    created_at: float


def _block(r) -> BlockRow:
    return BlockRow(r.cidr, r.reason, r.alarm_name, r.added_by, r.created_at, r.expires_at)


class BlocklistRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def begin(self) -> AbstractContextManager[Connection]:
        return self.engine.begin()

    def connect(self) -> AbstractContextManager[Connection]:
        return self.engine.connect()

    # ------------------------------------------------------------ blocklist

    def get(self, conn: Connection, cidr: str) -> BlockRow | None:
        r = conn.execute(select(blocklist).where(blocklist.c.cidr == cidr)).first()
        return None if r is None else _block(r)

    def active(self, conn: Connection, now: float) -> list[BlockRow]:
        q = select(blocklist).where((blocklist.c.expires_at.is_(None)) | (blocklist.c.expires_at > now))
        return [_block(r) for r in conn.execute(q.order_by(blocklist.c.created_at, blocklist.c.cidr))]

    def upsert(self, conn: Connection, row: BlockRow) -> None:
        values = {
            "reason": row.reason,
            "alarm_name": row.alarm_name,
            "added_by": row.added_by,
            "created_at": row.created_at,
            "expires_at": row.expires_at,
        }
        done = conn.execute(update(blocklist).where(blocklist.c.cidr == row.cidr).values(**values))
        if not done.rowcount:
            conn.execute(insert(blocklist).values(cidr=row.cidr, **values))

    def remove(self, conn: Connection, cidr: str) -> bool:
        return bool(conn.execute(delete(blocklist).where(blocklist.c.cidr == cidr)).rowcount)

    def expired(self, conn: Connection, now: float, limit: int = 1000) -> list[BlockRow]:
        q = (
            select(blocklist)
            .where(blocklist.c.expires_at.is_not(None), blocklist.c.expires_at <= now)
            .order_by(blocklist.c.expires_at)
            .limit(limit)
        )
        return [_block(r) for r in conn.execute(q)]

    def remove_many(self, conn: Connection, cidrs: Sequence[str]) -> None:
        if cidrs:
            conn.execute(delete(blocklist).where(blocklist.c.cidr.in_(list(cidrs))))

    # ------------------------------------------------------------ allowlist

    def allowed(self, conn: Connection) -> list[AllowRow]:
        q = select(allowlist).order_by(allowlist.c.cidr)
        return [AllowRow(r.cidr, r.note, r.created_at) for r in conn.execute(q)]

    def allow(self, conn: Connection, row: AllowRow) -> None:
        done = conn.execute(update(allowlist).where(allowlist.c.cidr == row.cidr).values(note=row.note))
        if not done.rowcount:
            conn.execute(insert(allowlist).values(cidr=row.cidr, note=row.note, created_at=row.created_at))

    def disallow(self, conn: Connection, cidr: str) -> bool:
        return bool(conn.execute(delete(allowlist).where(allowlist.c.cidr == cidr)).rowcount)

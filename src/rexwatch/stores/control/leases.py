"""Singleton leases in the control store: one node at a time runs a singleton worker
(alarm evaluation, retention). A lease lapses when its holder stops renewing it."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from rexwatch.stores.control.tables.core import leases


def acquire(engine: Engine, name: str, holder: str, ttl: float, now: float | None = None) -> bool:
    """Take or renew lease ``name`` for ``ttl`` seconds; False while another holder has it."""
    now = time.time() if now is None else now
    at = dt.datetime.fromtimestamp(now, dt.UTC)
    until = dt.datetime.fromtimestamp(now + ttl, dt.UTC)
    try:
        with engine.begin() as conn:
            q = select(leases).where(leases.c.name == name)
            if conn.dialect.name == "postgresql":
                q = q.with_for_update()
            row = conn.execute(q).first()
            if row is None:
                conn.execute(insert(leases).values(name=name, holder=holder, expires_at=until))
                return True
            expires = row.expires_at
            if row.holder != holder and expires > at:
                return False
            conn.execute(update(leases).where(leases.c.name == name).values(holder=holder, expires_at=until))
            return True
    except IntegrityError:
        return False


def release(engine: Engine, name: str, holder: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(leases)
            .where(leases.c.name == name, leases.c.holder == holder)
            .values(expires_at=dt.datetime.fromtimestamp(0, dt.UTC))
        )

"""The retention worker: physically removes deleted and expired log events.

Only one node at a time does it: a tick first takes the ``retention`` lease in
the control store (``leases`` table), which lapses if its holder dies.
"""

from __future__ import annotations

import datetime as dt
import os
import socket

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from rexwatch.stores.control.tables.core import leases
from rexwatch.workers.base import Worker


def take_lease(engine, name: str, holder: str, seconds: float) -> bool:
    """Take or renew lease ``name`` for ``holder``; False while another holder's lease is live."""
    try:
        return _take(engine, name, holder, seconds)
    except IntegrityError:  # another node created the lease row at the same moment
        return False


def _take(engine, name: str, holder: str, seconds: float) -> bool:
    now = dt.datetime.now(dt.UTC)
    until = now + dt.timedelta(seconds=seconds)
    with engine.begin() as conn:
        q = select(leases).where(leases.c.name == name)
        if engine.dialect.name == "postgresql":
            q = q.with_for_update()
        row = conn.execute(q).first()
        if row is None:
            conn.execute(insert(leases).values(name=name, holder=holder, expires_at=until))
            return True
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
        if row.holder != holder and expires > now:
            return False
        conn.execute(update(leases).where(leases.c.name == name).values(holder=holder, expires_at=until))
        return True


def release_lease(engine, name: str, holder: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))


class RetentionWorker(Worker):
    name = "retention"
    interval = 600.0  # reads hide expired data at once; disk space comes back within the hour

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"

    def tick(self, now: float) -> None:
        from rexwatch.services.logs import LogsService

        if not take_lease(self.runtime.control, "retention", self.holder, 3 * self.interval):
            return
        self.runtime.service(LogsService).purge()

    def close(self) -> None:
        release_lease(self.runtime.control, "retention", self.holder)

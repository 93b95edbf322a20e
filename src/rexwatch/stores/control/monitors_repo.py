"""Control-store access for monitors, target groups, maintenance windows and status pages.

The only module with SQL (SQLAlchemy Core) for these tables; services call it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from rexwatch.errors import Conflict
from rexwatch.stores.control.tables.monitors import (
    maintenance_windows,
    monitor_state,
    monitors,
    status_pages,
    target_groups,
    target_health,
    targets,
)
from rexwatch.stores.control.types import as_id


def utcnow() -> datetime:
    return datetime.now(UTC)


def _row(r: Any) -> dict[str, Any]:
    return dict(r._mapping)


_MON_COLS = [*monitors.c, *(c for c in monitor_state.c if c.name != "monitor_id")]


class MonitorRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # Monitors ------------------------------------------------------------------------------------

    def _mon_select(self):
        return select(*_MON_COLS).select_from(
            monitors.outerjoin(monitor_state, monitor_state.c.monitor_id == monitors.c.id)
        )

    def insert_monitor(self, values: dict[str, Any]) -> int:
        now = utcnow()
        try:
            with self.engine.begin() as conn:
                mid = conn.execute(
                    insert(monitors).values(**values, created_at=now, updated_at=now)
                ).inserted_primary_key[0]
                conn.execute(
                    insert(monitor_state).values(
                        monitor_id=mid, status="pending", fail_count=0, history="", flapping=False
                    )
                )
        except IntegrityError:
            raise Conflict(f"a monitor named {values['name']!r} already exists", field="name")
        return int(mid)

    def update_monitor(self, mid: int, values: dict[str, Any], reset_state: bool = False) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(update(monitors).where(monitors.c.id == mid).values(**values, updated_at=utcnow()))
                if reset_state:
                    conn.execute(
                        update(monitor_state)
                        .where(monitor_state.c.monitor_id == mid)
                        .values(status="pending", fail_count=0, history="", flapping=False)
                    )
        except IntegrityError:
            raise Conflict(f"a monitor named {values.get('name')!r} already exists", field="name")

    def delete_monitor(self, mid: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(monitor_state).where(monitor_state.c.monitor_id == mid))
            conn.execute(delete(monitors).where(monitors.c.id == mid))

    def find_monitor(self, ident: str | int) -> dict[str, Any] | None:
        q = self._mon_select()
        text = str(ident)
        cond = monitors.c.name == text
        mid = as_id(text)
        if mid is not None:
            cond = or_(cond, monitors.c.id == mid)
        with self.engine.connect() as conn:
            rows = conn.execute(q.where(cond)).fetchall()
        # An exact id beats a monitor whose name happens to be that number.
        rows.sort(key=lambda r: 0 if r.id == mid else 1)
        return _row(rows[0]) if rows else None

    def monitor_by_token(self, token: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            r = conn.execute(self._mon_select().where(monitors.c.push_token == token)).first()
        return _row(r) if r else None

    def list_monitors(self, ids: Sequence[int] | None = None, active_only: bool = False) -> list[dict[str, Any]]:
        q = self._mon_select().order_by(monitors.c.id)
        if ids is not None:
            q = q.where(monitors.c.id.in_(list(ids)))
        if active_only:
            q = q.where(monitors.c.paused.is_(False))
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(q)]

    def record_push(self, mid: int, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(monitor_state).where(monitor_state.c.monitor_id == mid).values(last_push_at=at))

    def last_push(self, mid: int) -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(monitor_state.c.last_push_at).where(monitor_state.c.monitor_id == mid)
            ).scalar()

    def save_monitor_states(self, states: Iterable[dict[str, Any]]) -> None:
        self.write_states(states, ())

    def write_states(
        self,
        monitor_states: Iterable[dict[str, Any]],
        target_states: Iterable[dict[str, Any]],
        also: Callable[[Connection], Any] | None = None,
    ) -> None:
        """Store monitor and target states, and run ``also(conn)`` (the notification outbox), in one
        transaction."""
        mons, tgts = list(monitor_states), list(target_states)
        if not mons and not tgts and also is None:
            return
        with self.engine.begin() as conn:
            # One executemany per shape of row (rows differ only by optional columns).
            for table, key, bind, rows in (
                (monitor_state, monitor_state.c.monitor_id, "monitor_id", mons),
                (target_health, target_health.c.target_row_id, "target_row_id", tgts),
            ):
                shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
                for r in rows:
                    shapes.setdefault(tuple(sorted(r)), []).append({f"b_{k}": v for k, v in r.items()})
                for cols, params in shapes.items():
                    values = {c: bindparam(f"b_{c}") for c in cols if c != bind}
                    conn.execute(update(table).where(key == bindparam(f"b_{bind}")).values(values), params)
            if also is not None:
                also(conn)

    def fingerprint(self) -> tuple:
        """Cheap summary of everything the prober reads: when it is unchanged, so is the configuration."""
        from sqlalchemy import func

        with self.engine.connect() as conn:
            mon = conn.execute(
                select(func.count(), func.max(monitors.c.updated_at), func.max(monitors.c.id))
            ).one()
            tgt = conn.execute(select(func.count(), func.max(targets.c.id))).one()
            groups = conn.execute(select(target_groups).order_by(target_groups.c.id)).all()
            win = conn.execute(select(func.count(), func.max(maintenance_windows.c.id))).one()
        return (tuple(mon), tuple(tgt), tuple(tuple(g) for g in groups), tuple(win))

    # Target groups ---------------------------------------------------------------------------------

    def insert_target_group(self, values: dict[str, Any]) -> int:
        try:
            with self.engine.begin() as conn:
                return int(
                    conn.execute(insert(target_groups).values(**values, created_at=utcnow())).inserted_primary_key[0]
                )
        except IntegrityError:
            raise Conflict(f"a target group named {values['name']!r} already exists", field="name")

    def find_target_group(self, ident: str | int) -> dict[str, Any] | None:
        text = str(ident)
        cond = or_(target_groups.c.name == text, target_groups.c.arn == text)
        tg_id = as_id(text)
        if tg_id is not None:
            cond = or_(cond, target_groups.c.id == tg_id)
        with self.engine.connect() as conn:
            r = conn.execute(select(target_groups).where(cond)).first()
        return _row(r) if r else None

    def list_target_groups(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(select(target_groups).order_by(target_groups.c.id))]

    def update_target_group(self, tg_id: int, values: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(target_groups).where(target_groups.c.id == tg_id).values(**values))

    def delete_target_group(self, tg_id: int) -> None:
        with self.engine.begin() as conn:
            ids = select(targets.c.id).where(targets.c.target_group_id == tg_id)
            conn.execute(delete(target_health).where(target_health.c.target_row_id.in_(ids)))
            conn.execute(delete(targets).where(targets.c.target_group_id == tg_id))
            conn.execute(delete(target_groups).where(target_groups.c.id == tg_id))

    def add_targets(self, tg_id: int, items: Sequence[tuple[str, int | None]]) -> int:
        """Register targets; already registered ones are left alone (RegisterTargets is idempotent)."""
        added = 0
        with self.engine.begin() as conn:
            for target_id, port in items:
                exists = conn.execute(select(targets.c.id).where(self._target_cond(tg_id, target_id, port))).first()
                if exists:
                    continue
                rid = conn.execute(
                    insert(targets).values(
                        target_group_id=tg_id, target_id=target_id, port=port, registered_at=utcnow()
                    )
                ).inserted_primary_key[0]
                conn.execute(
                    insert(target_health).values(
                        target_row_id=rid,
                        state="initial",
                        reason="Elb.RegistrationInProgress",
                        description="Target registration is in progress",
                        success_count=0,
                        fail_count=0,
                    )
                )
                added += 1
        return added

    @staticmethod
    def _target_cond(tg_id: int, target_id: str, port: int | None):
        port_cond = targets.c.port.is_(None) if port is None else targets.c.port == port
        return and_(targets.c.target_group_id == tg_id, targets.c.target_id == target_id, port_cond)

    def remove_targets(self, tg_id: int, items: Sequence[tuple[str, int | None]]) -> int:
        removed = 0
        with self.engine.begin() as conn:
            for target_id, port in items:
                rid = conn.execute(select(targets.c.id).where(self._target_cond(tg_id, target_id, port))).scalar()
                if rid is None:
                    continue
                conn.execute(delete(target_health).where(target_health.c.target_row_id == rid))
                conn.execute(delete(targets).where(targets.c.id == rid))
                removed += 1
        return removed

    def list_targets(self, tg_id: int | None = None) -> list[dict[str, Any]]:
        q = (
            select(*targets.c, *(c for c in target_health.c if c.name != "target_row_id"))
            .select_from(targets.outerjoin(target_health, target_health.c.target_row_id == targets.c.id))
            .order_by(targets.c.id)
        )
        if tg_id is not None:
            q = q.where(targets.c.target_group_id == tg_id)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(q)]

    # Maintenance windows -----------------------------------------------------------------------------

    def insert_window(self, values: dict[str, Any]) -> int:
        with self.engine.begin() as conn:
            return int(
                conn.execute(insert(maintenance_windows).values(**values, created_at=utcnow())).inserted_primary_key[0]
            )

    def list_windows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(select(maintenance_windows).order_by(maintenance_windows.c.id))]

    def delete_window(self, wid: int) -> bool:
        if as_id(wid) is None:
            return False
        with self.engine.begin() as conn:
            return conn.execute(delete(maintenance_windows).where(maintenance_windows.c.id == wid)).rowcount > 0

    # Status pages ------------------------------------------------------------------------------------

    def insert_page(self, values: dict[str, Any]) -> int:
        try:
            with self.engine.begin() as conn:
                return int(conn.execute(insert(status_pages).values(**values, created_at=utcnow())).inserted_primary_key[0])
        except IntegrityError:
            raise Conflict(f"a status page with slug {values['slug']!r} already exists", field="slug")

    def update_page(self, pid: int, values: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(status_pages).where(status_pages.c.id == pid).values(**values))

    def find_page(self, slug: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(status_pages).where(status_pages.c.slug == slug)).first()
        return _row(r) if r else None

    def list_pages(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(select(status_pages).order_by(status_pages.c.id))]

    def delete_page(self, pid: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(status_pages).where(status_pages.c.id == pid))

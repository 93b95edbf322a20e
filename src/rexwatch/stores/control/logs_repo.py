"""Log groups and streams in the control store (the only SQL about them)."""

from __future__ import annotations

import threading
import time

import orjson
from sqlalchemy import Engine, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from rexwatch.errors import AlreadyExists, NotFound, Protected
from rexwatch.services.logs.model import Group, Stream, now_ms
from rexwatch.stores.control.tables.logs import log_groups, log_streams, log_tombstones
from rexwatch.stores.control.types import has_prefix

CACHE_TTL_S = 2.0


def _group(row) -> Group:
    return Group(row.id, row.name, row.created_ms, row.retention_days, row.kms_key_id, row.log_group_class,
                 bool(row.deletion_protection), row.index_policy, row.index_policy_ms, row.team_id)


class LogsRepo:
    """Groups and streams, with a short cache of name lookups for the ingest path."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._groups: dict[str, tuple[float, Group]] = {}
        self._streams: dict[tuple[int, str], tuple[float, Stream]] = {}

    def _forget(self) -> None:
        with self._lock:
            self._groups.clear()
            self._streams.clear()

    # Groups ---------------------------------------------------------------------------------------

    def create_group(self, name: str, *, kms_key_id: str | None = None, log_group_class: str = "STANDARD",
                     deletion_protection: bool = False, tags: dict | None = None,
                     team_id: int | None = None) -> Group:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(log_groups).values(
                    name=name, created_ms=now_ms(), kms_key_id=kms_key_id, log_group_class=log_group_class,
                    deletion_protection=deletion_protection, team_id=team_id,
                    tags=orjson.dumps(tags).decode() if tags else None))
        except IntegrityError:
            raise AlreadyExists(f"The specified log group already exists: {name}")
        self._forget()
        return self.group(name)

    def group(self, name: str, *, cached: bool = False) -> Group:
        if cached:
            hit = self._groups.get(name)
            if hit and hit[0] > time.monotonic():
                return hit[1]
        with self.engine.connect() as conn:
            row = conn.execute(select(log_groups).where(log_groups.c.name == name)).first()
        if row is None:
            raise NotFound(f"The specified log group does not exist: {name}")
        g = _group(row)
        with self._lock:
            self._groups[name] = (time.monotonic() + CACHE_TTL_S, g)
        return g

    def groups(self, names: list[str]) -> list[Group]:
        """The named groups in the order given; NotFound names the first missing one."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(log_groups).where(log_groups.c.name.in_(set(names)))).all()
        found = {r.name: _group(r) for r in rows}
        for n in names:
            if n not in found:
                raise NotFound(f"The specified log group does not exist: {n}")
        return [found[n] for n in dict.fromkeys(names)]

    def list_groups(self, *, prefix: str | None = None, pattern: str | None = None, after: str | None = None,
                    limit: int | None = None, names: list[str] | None = None,
                    teams: frozenset[int] | None = None, exclude: list[str] | None = None) -> list[Group]:
        """``teams``: only groups of no team or of one of these (None: every group); ``exclude``:
        names left out."""
        q = select(log_groups).order_by(log_groups.c.name)
        if exclude:
            q = q.where(log_groups.c.name.not_in(exclude))
        if teams is not None:
            q = q.where(or_(log_groups.c.team_id.is_(None), log_groups.c.team_id.in_(sorted(teams))))
        if prefix:
            q = q.where(has_prefix(log_groups.c.name, prefix))
        if pattern:
            q = q.where(log_groups.c.name.icontains(pattern, autoescape=True))
        if names:
            q = q.where(log_groups.c.name.in_(names))
        if after is not None:
            q = q.where(log_groups.c.name > after)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [_group(r) for r in conn.execute(q)]

    def update_group(self, name: str, **values) -> Group:
        with self.engine.begin() as conn:
            res = conn.execute(update(log_groups).where(log_groups.c.name == name).values(**values))
        if res.rowcount == 0:
            raise NotFound(f"The specified log group does not exist: {name}")
        self._forget()
        return self.group(name)

    def delete_group(self, name: str) -> Group:
        g = self.group(name)
        if g.deletion_protection:
            raise Protected(f"log group {name} has deletion protection enabled")
        with self.engine.begin() as conn:
            conn.execute(delete(log_streams).where(log_streams.c.group_id == g.id))
            conn.execute(delete(log_groups).where(log_groups.c.id == g.id))
            conn.execute(insert(log_tombstones).values(group_id=g.id, stream_id=None, deleted_ms=now_ms()))
        self._forget()
        return g

    # Streams --------------------------------------------------------------------------------------

    def create_stream(self, group: Group, name: str) -> Stream:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(log_streams).values(group_id=group.id, name=name, created_ms=now_ms()))
        except IntegrityError:
            raise AlreadyExists(f"The specified log stream already exists: {name}")
        return self.stream(group, name)

    def stream(self, group: Group, name: str, *, cached: bool = False) -> Stream:
        key = (group.id, name)
        if cached:
            hit = self._streams.get(key)
            if hit and hit[0] > time.monotonic():
                return hit[1]
        with self.engine.connect() as conn:
            row = conn.execute(select(log_streams).where(
                and_(log_streams.c.group_id == group.id, log_streams.c.name == name))).first()
        if row is None:
            raise NotFound(f"The specified log stream does not exist: {name}")
        s = Stream(row.id, row.group_id, row.name, row.created_ms)
        with self._lock:
            self._streams[key] = (time.monotonic() + CACHE_TTL_S, s)
        return s

    def list_streams(self, group: Group, *, prefix: str | None = None) -> list[Stream]:
        q = select(log_streams).where(log_streams.c.group_id == group.id).order_by(log_streams.c.name)
        if prefix:
            q = q.where(has_prefix(log_streams.c.name, prefix))
        with self.engine.connect() as conn:
            return [Stream(r.id, r.group_id, r.name, r.created_ms) for r in conn.execute(q)]

    def delete_stream(self, group: Group, name: str) -> Stream:
        s = self.stream(group, name)
        with self.engine.begin() as conn:
            conn.execute(delete(log_streams).where(log_streams.c.id == s.id))
            conn.execute(insert(log_tombstones).values(group_id=group.id, stream_id=s.id, deleted_ms=now_ms()))
        self._forget()
        return s

    # Tombstones -------------------------------------------------------------------------------------

    def tombstones(self) -> list[tuple[int, int, int | None]]:
        with self.engine.connect() as conn:
            return [(r.id, r.group_id, r.stream_id) for r in conn.execute(select(log_tombstones))]

    def deleted_streams(self, group_ids: list[int]) -> dict[int, list[int]]:
        """Stream ids deleted (not yet purged) per live group: reads exclude them."""
        q = select(log_tombstones.c.group_id, log_tombstones.c.stream_id).where(
            and_(log_tombstones.c.group_id.in_(group_ids), log_tombstones.c.stream_id.is_not(None)))
        out: dict[int, list[int]] = {g: [] for g in group_ids}
        with self.engine.connect() as conn:
            for gid, sid in conn.execute(q):
                out[gid].append(sid)
        return out

    def clear_tombstones(self, ids: list[int]) -> None:
        if ids:
            with self.engine.begin() as conn:
                conn.execute(delete(log_tombstones).where(log_tombstones.c.id.in_(ids)))

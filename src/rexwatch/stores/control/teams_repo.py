"""SQL for teams, their members, and the team of log groups and alarms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from rexwatch.errors import AlreadyExists
from rexwatch.stores.control.tables.alarms import alarms
from rexwatch.stores.control.tables.logs import log_groups
from rexwatch.stores.control.tables.teams import team_members, teams
from rexwatch.stores.control.tables.users import users

# The tables whose rows carry a team, by the kind of resource the service names.
_OWNED = {"log_group": log_groups, "alarm": alarms}


class TeamsRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert(self, name: str, created_at: datetime) -> int:
        try:
            with self.engine.begin() as conn:
                return conn.execute(insert(teams).values(name=name, created_at=created_at)).inserted_primary_key[0]
        except IntegrityError:
            raise AlreadyExists(f"a team named {name!r} exists", field="name")

    def get(self, name: str) -> Any | None:
        with self.engine.connect() as conn:
            return conn.execute(select(teams).where(teams.c.name == name)).first()

    def names(self, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        with self.engine.connect() as conn:
            return dict(conn.execute(select(teams.c.id, teams.c.name).where(teams.c.id.in_(ids))).all())

    def all(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(teams).order_by(teams.c.name)))

    def members(self) -> dict[int, list[str]]:
        """Team id -> the user names of its members, sorted."""
        q = (select(team_members.c.team_id, users.c.username)
             .join(users, users.c.id == team_members.c.user_id).order_by(users.c.username))
        out: dict[int, list[str]] = {}
        with self.engine.connect() as conn:
            for team_id, username in conn.execute(q):
                out.setdefault(team_id, []).append(username)
        return out

    def owned_counts(self) -> dict[int, dict[str, int]]:
        """Team id -> {kind: how many resources of that kind it owns}."""
        out: dict[int, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for kind, table in _OWNED.items():
                q = select(table.c.team_id, func.count()).where(table.c.team_id.is_not(None)).group_by(table.c.team_id)
                for team_id, n in conn.execute(q):
                    out.setdefault(team_id, {})[kind] = int(n)
        return out

    def remove(self, team_id: int) -> None:
        """Delete the team; what it owned becomes unowned (visible to every caller) in the same
        transaction, so no resource is left pointing at a team that no longer exists."""
        with self.engine.begin() as conn:
            for table in _OWNED.values():
                conn.execute(update(table).where(table.c.team_id == team_id).values(team_id=None))
            conn.execute(delete(team_members).where(team_members.c.team_id == team_id))
            conn.execute(delete(teams).where(teams.c.id == team_id))

    def add_member(self, team_id: int, user_id: int) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(team_members).values(team_id=team_id, user_id=user_id))
            return True
        except IntegrityError:
            return False

    def remove_member(self, team_id: int, user_id: int) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(team_members).where(
                team_members.c.team_id == team_id, team_members.c.user_id == user_id)).rowcount > 0

    def teams_of(self, user_id: int) -> frozenset[int]:
        with self.engine.connect() as conn:
            return frozenset(conn.execute(select(team_members.c.team_id)
                                          .where(team_members.c.user_id == user_id)).scalars())

    def drop_user(self, user_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(team_members).where(team_members.c.user_id == user_id))

    def set_owner(self, kind: str, name: str, team_id: int | None) -> bool:
        """Give the named log group or alarm to a team (None: to no team); False if there is none."""
        table = _OWNED[kind]
        with self.engine.begin() as conn:
            return conn.execute(update(table).where(table.c.name == name).values(team_id=team_id)).rowcount > 0

    def owner(self, kind: str, name: str) -> tuple[bool, int | None]:
        """(whether the resource exists, its team id)."""
        table = _OWNED[kind]
        with self.engine.connect() as conn:
            row = conn.execute(select(table.c.team_id).where(table.c.name == name)).first()
        return (row is not None, row[0] if row is not None else None)

"""SQL for users and console sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from rexwatch.errors import AlreadyExists
from rexwatch.stores.control.tables.core import api_keys
from rexwatch.stores.control.tables.users import sessions, users


class UsersRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert(self, username: str, password_hash: str, role: str, created_at: datetime) -> int:
        try:
            with self.engine.begin() as conn:
                return conn.execute(insert(users).values(
                    username=username, password_hash=password_hash, role=role, created_at=created_at,
                    failed_logins=0,
                )).inserted_primary_key[0]
        except IntegrityError:
            raise AlreadyExists(f"a user named {username!r} exists", field="username")

    def get(self, username: str) -> Any | None:
        with self.engine.connect() as conn:
            return conn.execute(select(users).where(users.c.username == username)).first()

    def get_id(self, user_id: int) -> Any | None:
        with self.engine.connect() as conn:
            return conn.execute(select(users).where(users.c.id == user_id)).first()

    def all(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(users).order_by(users.c.id)))

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

    def count_admins(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(users).where(users.c.role == "admin")).scalar_one())

    def set(self, user_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(**values))

    def remove(self, user_id: int, revoked_at: datetime) -> None:
        """Delete the user, its sessions, and revoke its keys, in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
            conn.execute(update(api_keys).where(api_keys.c.user_id == user_id, api_keys.c.revoked_at.is_(None))
                         .values(revoked_at=revoked_at))
            conn.execute(delete(users).where(users.c.id == user_id))

    def disable(self, user_id: int, at: datetime) -> None:
        """Mark the user disabled, end its sessions and revoke its keys, in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(disabled_at=at))
            conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
            conn.execute(update(api_keys).where(api_keys.c.user_id == user_id, api_keys.c.revoked_at.is_(None))
                         .values(revoked_at=at))

    def count_active_admins(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(users).where(
                users.c.role == "admin", users.c.disabled_at.is_(None))).scalar_one())

    def record_failure(self, user_id: int, max_failures: int, locked_until: float) -> int:
        """Count one failed login; lock the user once the count reaches ``max_failures``."""
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(failed_logins=users.c.failed_logins + 1))
            n = int(conn.execute(select(users.c.failed_logins).where(users.c.id == user_id)).scalar_one())
            if n >= max_failures:
                conn.execute(update(users).where(users.c.id == user_id).values(locked_until=locked_until))
            return n

    # Sessions ----------------------------------------------------------------

    def add_session(self, id_hash: str, user_id: int, now: float, ip: str, user_agent: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(sessions).values(id_hash=id_hash, user_id=user_id, created_at=now,
                                                 last_seen_at=now, ip=ip[:64], user_agent=user_agent[:300]))

    def session(self, id_hash: str) -> Any | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(sessions, users.c.username, users.c.role, users.c.disabled_at)
                .join(users, users.c.id == sessions.c.user_id)
                .where(sessions.c.id_hash == id_hash)
            ).first()

    def touch_session(self, id_hash: str, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(sessions).where(sessions.c.id_hash == id_hash).values(last_seen_at=now))

    def drop_session(self, id_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.id_hash == id_hash))

    def drop_sessions_of(self, user_id: int) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(sessions).where(sessions.c.user_id == user_id)).rowcount

    def count_sessions(self, user_id: int) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(sessions)
                                    .where(sessions.c.user_id == user_id)).scalar_one())

"""SQL for single sign-on identities."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from rexwatch.errors import AlreadyExists
from rexwatch.stores.control.tables.sso import sso_identities
from rexwatch.stores.control.tables.users import users


class SsoRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def find(self, provider: str, subject: str) -> Any | None:
        """The identity with its user's name and role (None for both when the user is gone)."""
        j = sso_identities.outerjoin(users, users.c.id == sso_identities.c.user_id)
        q = (select(sso_identities, users.c.username, users.c.role).select_from(j)
             .where(sso_identities.c.provider == provider, sso_identities.c.subject == subject))
        with self.engine.connect() as conn:
            return conn.execute(q).first()

    def of_user(self, user_id: int) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(sso_identities).where(sso_identities.c.user_id == user_id)
                                     .order_by(sso_identities.c.id)))

    def all(self) -> list[Any]:
        j = sso_identities.join(users, users.c.id == sso_identities.c.user_id)
        q = select(sso_identities, users.c.username, users.c.role).select_from(j).order_by(sso_identities.c.id)
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def link(self, provider: str, subject: str, user_id: int, email: str, teams: list[str], now: float) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(sso_identities).values(provider=provider, subject=subject, user_id=user_id,
                                                           email=email, teams=teams, created_at=now,
                                                           last_login_at=now))
        except IntegrityError:
            raise AlreadyExists(f"identity {subject!r} of {provider!r} is linked already", field="subject")

    def seen(self, identity_id: int, email: str, teams: list[str], now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(sso_identities).where(sso_identities.c.id == identity_id)
                         .values(email=email, teams=teams, last_login_at=now))

    def drop(self, identity_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sso_identities).where(sso_identities.c.id == identity_id))

"""SQL for users' email addresses and password reset tokens."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update

from rexwatch.stores.control.tables.recovery import (
    password_resets,
    totp_recovery_codes,
    user_emails,
    user_totp,
)
from rexwatch.stores.control.tables.users import users


class RecoveryRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # Addresses -------------------------------------------------------------------------------------

    def set_email(self, user_id: int, email: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(user_emails).where(user_emails.c.user_id == user_id))
            if email:
                conn.execute(insert(user_emails).values(user_id=user_id, email=email))

    def email_of(self, user_id: int) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(user_emails.c.email).where(user_emails.c.user_id == user_id)).scalar()

    def emails(self) -> dict[int, str]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(user_emails.c.user_id, user_emails.c.email)).all())

    def users_by_email(self, email: str) -> list[Any]:
        """Users with this address, compared without case."""
        with self.engine.connect() as conn:
            return list(conn.execute(
                select(users.c.id, users.c.username).join(user_emails, user_emails.c.user_id == users.c.id)
                .where(func.lower(user_emails.c.email) == email.lower())))

    # Reset tokens ----------------------------------------------------------------------------------

    def add_token(self, token_hash: str, user_id: int, now: float, expires_at: float) -> None:
        """Keep a new token; the user's earlier unused ones stop working (only the newest link does)."""
        with self.engine.begin() as conn:
            conn.execute(update(password_resets).where(password_resets.c.user_id == user_id,
                                                       password_resets.c.used_at.is_(None)).values(used_at=now))
            conn.execute(delete(password_resets).where(password_resets.c.expires_at < now - 86400))
            conn.execute(insert(password_resets).values(token_hash=token_hash, user_id=user_id, created_at=now,
                                                        expires_at=expires_at))

    def token(self, token_hash: str) -> Any | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(password_resets, users.c.username)
                .join(users, users.c.id == password_resets.c.user_id)
                .where(password_resets.c.token_hash == token_hash)).first()

    def last_issued(self, user_id: int) -> float | None:
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(password_resets.c.created_at))
                                .where(password_resets.c.user_id == user_id)).scalar()

    def use_token(self, token_hash: str, now: float) -> bool:
        """Mark an unused, unexpired token used; False if it was not (one redemption wins a race)."""
        with self.engine.begin() as conn:
            return conn.execute(update(password_resets).where(
                password_resets.c.token_hash == token_hash, password_resets.c.used_at.is_(None),
                password_resets.c.expires_at > now).values(used_at=now)).rowcount == 1

    # TOTP ------------------------------------------------------------------------------------------

    def totp(self, user_id: int) -> Any | None:
        with self.engine.connect() as conn:
            return conn.execute(select(user_totp).where(user_totp.c.user_id == user_id)).first()

    def start_totp(self, user_id: int, secret_enc: str) -> None:
        """A new secret awaiting confirmation (replacing one not confirmed yet)."""
        with self.engine.begin() as conn:
            conn.execute(delete(user_totp).where(user_totp.c.user_id == user_id, user_totp.c.enabled_at.is_(None)))
            conn.execute(insert(user_totp).values(user_id=user_id, secret_enc=secret_enc, last_step=0))

    def enable_totp(self, user_id: int, now: float, step: int, code_hashes: list[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(user_totp).where(user_totp.c.user_id == user_id)
                         .values(enabled_at=now, last_step=step))
            conn.execute(delete(totp_recovery_codes).where(totp_recovery_codes.c.user_id == user_id))
            conn.execute(insert(totp_recovery_codes), [{"user_id": user_id, "code_hash": h} for h in code_hashes])

    def use_step(self, user_id: int, step: int) -> bool:
        """Record a code's time step as used; False if that step or a later one was used (a replay)."""
        with self.engine.begin() as conn:
            return conn.execute(update(user_totp).where(user_totp.c.user_id == user_id,
                                                        user_totp.c.last_step < step)
                                .values(last_step=step)).rowcount == 1

    def use_recovery_code(self, user_id: int, code_hash: str, now: float) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(update(totp_recovery_codes).where(
                totp_recovery_codes.c.user_id == user_id, totp_recovery_codes.c.code_hash == code_hash,
                totp_recovery_codes.c.used_at.is_(None)).values(used_at=now)).rowcount == 1

    def recovery_codes_left(self, user_id: int) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(totp_recovery_codes).where(
                totp_recovery_codes.c.user_id == user_id, totp_recovery_codes.c.used_at.is_(None))).scalar_one())

    def drop_totp(self, user_id: int) -> bool:
        with self.engine.begin() as conn:
            conn.execute(delete(totp_recovery_codes).where(totp_recovery_codes.c.user_id == user_id))
            return conn.execute(delete(user_totp).where(user_totp.c.user_id == user_id)).rowcount > 0

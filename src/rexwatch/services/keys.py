"""API keys (bearer) and AWS-style access keys (SigV4)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, update

from rexwatch.errors import Invalid, NotFound
from rexwatch.secrets import SecretBox
from rexwatch.services.access import ROLES, Principal, check_role, check_scope
from rexwatch.stores.control.tables.core import api_keys

BEARER_PREFIX = "rxw_"
__all__ = ["ROLES", "KeyInfo", "KeyService", "NewKey"]
# last_used_at is written at most this often per key, so authentication stays read-only.
TOUCH_INTERVAL_S = 60.0


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    kind: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    role: str = "admin"
    scope: str | None = None
    user_id: int | None = None

    def principal(self) -> Principal:
        return Principal("key", self.name, self.role, self.scope, self.user_id, self.prefix)


@dataclass(frozen=True)
class NewKey:
    info: KeyInfo
    # Shown once: a bearer token, or an access key id and secret.
    token: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


class KeyService:
    def __init__(self, engine: Engine, box: SecretBox) -> None:
        self.engine = engine
        self.box = box
        self._touched: dict[str, float] = {}
        self._touch_lock = threading.Lock()

    def create(self, name: str, *, aws: bool = False, role: str = "admin", scope: str | None = None,
               user_id: int | None = None) -> NewKey:
        """A key for a user (``user_id``) or, without one, a service account named ``name``.
        ``role`` is viewer, editor or admin ('user', the old name of editor, is accepted);
        ``scope`` optionally narrows it to 'ingest' or 'read'."""
        name = name.strip()
        if not name or len(name) > 200:
            raise Invalid("key name must be 1-200 characters", field="name")
        role, scope = check_role(role), check_scope(scope)
        now = _now()
        if aws:
            # Same shape as AWS access keys: 20 upper-case characters, 40-character secret.
            access_key_id = "RXWK" + "".join(
                secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)
            )
            secret = secrets.token_urlsafe(30)[:40]
            values = dict(name=name, kind="aws", prefix=access_key_id, secret_enc=self.box.encrypt(secret))
        else:
            prefix = secrets.token_hex(4)
            token = f"{BEARER_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
            values = dict(name=name, kind="bearer", prefix=prefix, key_hash=_hash(token))
        with self.engine.begin() as conn:
            key_id = conn.execute(
                insert(api_keys).values(created_at=now, role=role, scope=scope, user_id=user_id, **values)
            ).inserted_primary_key[0]
        info = KeyInfo(key_id, name, values["kind"], values["prefix"], now, None, None, role, scope, user_id)
        if aws:
            return NewKey(info, access_key_id=access_key_id, secret_access_key=secret)
        return NewKey(info, token=token)

    def list(self, include_revoked: bool = False) -> list[KeyInfo]:
        q = select(api_keys).order_by(api_keys.c.id)
        if not include_revoked:
            q = q.where(api_keys.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return [self._info(r) for r in conn.execute(q)]

    def revoke(self, ident: str) -> KeyInfo:
        """Revoke by id, prefix/access key id, or name (if unique)."""
        with self.engine.begin() as conn:
            rows = list(conn.execute(select(api_keys).where(api_keys.c.revoked_at.is_(None))))
            match = [r for r in rows if str(r.id) == ident or r.prefix == ident]
            if not match:
                match = [r for r in rows if r.name == ident]
            if not match:
                raise NotFound(f"no active key matches {ident!r}")
            if len(match) > 1:
                raise Invalid(f"{len(match)} keys are named {ident!r}: revoke by id")
            conn.execute(update(api_keys).where(api_keys.c.id == match[0].id).values(revoked_at=_now()))
        return self._info(match[0])

    def any_active(self) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(select(api_keys.c.id).where(api_keys.c.revoked_at.is_(None)).limit(1)).first()
                is not None
            )

    def verify_bearer(self, token: str) -> KeyInfo | None:
        """The key for a bearer token, or None. Compares hashes in constant time."""
        parts = token.split("_")
        if len(parts) < 3 or not token.startswith(BEARER_PREFIX):
            return None
        prefix = parts[1]
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_keys).where(
                    api_keys.c.prefix == prefix, api_keys.c.kind == "bearer", api_keys.c.revoked_at.is_(None)
                )
            ).first()
        if row is None or not hmac.compare_digest(row.key_hash, _hash(token)):
            return None
        self.touch(row.prefix)
        return self._info(row)

    def by_access_key(self, access_key_id: str) -> KeyInfo | None:
        """The active AWS access key with this id (after SigV4 has verified it)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_keys).where(
                    api_keys.c.prefix == access_key_id, api_keys.c.kind == "aws", api_keys.c.revoked_at.is_(None)
                )
            ).first()
        return self._info(row) if row else None

    def aws_secret(self, access_key_id: str) -> str | None:
        """The secret of an active AWS access key, for SigV4 verification."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_keys.c.secret_enc).where(
                    api_keys.c.prefix == access_key_id,
                    api_keys.c.kind == "aws",
                    api_keys.c.revoked_at.is_(None),
                )
            ).first()
        return self.box.decrypt(row.secret_enc) if row else None

    def touch(self, prefix: str) -> None:
        """Record that a key was just used: written at most once per TOUCH_INTERVAL_S per key."""
        now = time.monotonic()
        with self._touch_lock:
            if now - self._touched.get(prefix, -TOUCH_INTERVAL_S) < TOUCH_INTERVAL_S:
                return
            self._touched[prefix] = now
        with self.engine.begin() as conn:
            conn.execute(update(api_keys).where(api_keys.c.prefix == prefix).values(last_used_at=_now()))

    @staticmethod
    def _info(r) -> KeyInfo:
        return KeyInfo(r.id, r.name, r.kind, r.prefix, r.created_at, r.last_used_at, r.revoked_at, r.role,
                       r.scope, r.user_id)

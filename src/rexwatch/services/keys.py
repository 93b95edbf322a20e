"""API keys (bearer) and AWS-style access keys (SigV4)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from rexwatch.errors import Invalid, NotFound
from rexwatch.secrets import SecretBox
from rexwatch.services.access import ROLES, Principal, check_role, check_scope
from rexwatch.stores.control.keys_repo import KeysRepo

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
        self.repo = KeysRepo(engine)
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
        key_id = self.repo.insert(created_at=now, role=role, scope=scope, user_id=user_id, **values)
        info = KeyInfo(key_id, name, values["kind"], values["prefix"], now, None, None, role, scope, user_id)
        if aws:
            return NewKey(info, access_key_id=access_key_id, secret_access_key=secret)
        return NewKey(info, token=token)

    def list(self, include_revoked: bool = False) -> list[KeyInfo]:
        return [self._info(r) for r in self.repo.all(include_revoked)]

    def revoke(self, ident: str) -> KeyInfo:
        """Revoke by id, prefix/access key id, or name (if unique)."""
        def pick(rows: list) -> object:
            match = [r for r in rows if str(r.id) == ident or r.prefix == ident]
            if not match:
                match = [r for r in rows if r.name == ident]
            if not match:
                raise NotFound(f"no active key matches {ident!r}")
            if len(match) > 1:
                raise Invalid(f"{len(match)} keys are named {ident!r}: revoke by id")
            return match[0]

        return self._info(self.repo.revoke_matching(pick, _now()))

    def any_active(self) -> bool:
        return self.repo.any_active()

    def verify_bearer(self, token: str) -> KeyInfo | None:
        """The key for a bearer token, or None. Compares hashes in constant time."""
        parts = token.split("_")
        if len(parts) < 3 or not token.startswith(BEARER_PREFIX):
            return None
        prefix = parts[1]
        row = self.repo.active(prefix, "bearer")
        if row is None or not hmac.compare_digest(row.key_hash, _hash(token)):
            return None
        self.touch(row.prefix)
        return self._info(row)

    def by_access_key(self, access_key_id: str) -> KeyInfo | None:
        """The active AWS access key with this id (after SigV4 has verified it)."""
        row = self.repo.active(access_key_id, "aws")
        return self._info(row) if row else None

    def aws_secret(self, access_key_id: str) -> str | None:
        """The secret of an active AWS access key, for SigV4 verification."""
        row = self.repo.active(access_key_id, "aws")
        return self.box.decrypt(row.secret_enc) if row else None

    def touch(self, prefix: str) -> None:
        """Record that a key was just used: written at most once per TOUCH_INTERVAL_S per key."""
        now = time.monotonic()
        with self._touch_lock:
            if now - self._touched.get(prefix, -TOUCH_INTERVAL_S) < TOUCH_INTERVAL_S:
                return
            self._touched[prefix] = now
        self.repo.touch(prefix, _now())

    @staticmethod
    def _info(r) -> KeyInfo:
        return KeyInfo(r.id, r.name, r.kind, r.prefix, r.created_at, r.last_used_at, r.revoked_at, r.role,
                       r.scope, r.user_id)

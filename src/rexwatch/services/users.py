"""Local users with passwords, console sessions, and the failed-login limit.

Passwords are hashed with argon2id (argon2-cffi). A session id is a random token kept in an
HttpOnly cookie and stored only as its SHA-256 hash; a session ends after
``session_idle_minutes`` without use or ``session_max_hours`` after login, on logout, and for all
of a user's sessions on "log out everywhere", a password reset, a role change or deletion.

Failed logins are limited twice: per user (``login_max_failures`` in a row locks the account for
``login_lockout_minutes``) and per client address (as many failures within 5 minutes, whatever the
user names, refuse that address for as long), so neither guessing one password nor spraying many
users gets more than a handful of tries. Each failure is written to the audit log group as
``failed login attempt`` with ``user_id`` and ``ip_address``: the brute-force rule template fires
on rexwatch's own logins.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from rexwatch.errors import Invalid, NotFound, Protected, Throttled, Unauthorized
from rexwatch.services.access import Principal, check_role
from rexwatch.stores.control.users_repo import UsersRepo

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
IP_WINDOW_S = 300.0
# A hash to verify against when the user does not exist, so both cases take the same time.
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("no such user: compare anyway")
# The password hash of users who sign in through a single sign-on provider: not an argon2 hash, so
# no password ever matches it (verify raises InvalidHashError) until an admin sets one.
EXTERNAL_HASH = "!external"


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    created_at: datetime
    locked: bool = False
    disabled: bool = False

    def view(self) -> dict:
        return {"id": self.id, "username": self.username, "role": self.role,
                "created_at": self.created_at.isoformat(), "locked": self.locked, "disabled": self.disabled}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid(f"password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters", field="password")
    return password


def check_username(username: str) -> str:
    username = (username or "").strip()
    if not _NAME.fullmatch(username):
        raise Invalid("username must be 1-200 letters, digits or . _ @ + - (starting with a letter or digit)",
                      field="username")
    return username


class UserService:
    def __init__(self, runtime, clock=time.time) -> None:
        self.runtime = runtime
        self.repo = UsersRepo(runtime.control)
        self.clock = clock
        self._ip_failures: dict[str, deque[float]] = {}
        self._ip_locked: dict[str, float] = {}
        self._lock = threading.Lock()
        # Proves access to the server on the first-run page (printed in the server log).
        self.setup_token = secrets.token_urlsafe(16)

    @property
    def settings(self):
        return self.runtime.settings

    def _user(self, row) -> User:
        locked = bool(row.locked_until and row.locked_until > self.clock())
        return User(row.id, row.username, row.role, row.created_at, locked, row.disabled_at is not None)

    # Accounts ----------------------------------------------------------------

    def any_user(self) -> bool:
        return self.repo.count() > 0

    def create(self, username: str, password: str, role: str) -> User:
        username, role = check_username(username), check_role(role)
        self.repo.insert(username, _hasher.hash(check_password(password)), role, datetime.now(UTC))
        return self.get(username)

    def get(self, username: str) -> User:
        row = self.repo.get(username)
        if row is None:
            raise NotFound(f"no user named {username!r}", field="username")
        return self._user(row)

    def list(self) -> list[User]:
        return [self._user(r) for r in self.repo.all()]

    def set_role(self, username: str, role: str) -> tuple[User, User]:
        """Change a role; returns (before, after). The last admin cannot step down."""
        role = check_role(role)
        before = self.get(username)
        if before.role == "admin" and role != "admin" and not before.disabled and self.repo.count_active_admins() <= 1:
            raise Protected(f"{username!r} is the only admin: make another admin first")
        self.repo.set(before.id, role=role)
        # Sessions carry the role they were opened with: end them so the change applies now.
        self.repo.drop_sessions_of(before.id)
        return before, self.get(username)

    def reset_password(self, username: str, password: str) -> User:
        user = self.get(username)
        self.repo.set(user.id, password_hash=_hasher.hash(check_password(password)), failed_logins=0,
                      locked_until=None)
        self.repo.drop_sessions_of(user.id)
        return user

    def delete(self, username: str) -> User:
        user = self.get(username)
        if user.role == "admin" and not user.disabled and self.repo.count_active_admins() <= 1:
            raise Protected(f"{username!r} is the only admin: make another admin first")
        self.repo.remove(user.id, datetime.now(UTC))
        return user

    def disable(self, username: str) -> User:
        """No more logins; ends the user's sessions and revokes its keys (enabling does not
        bring the keys back). The last active admin cannot be disabled."""
        user = self.get(username)
        if user.role == "admin" and not user.disabled and self.repo.count_active_admins() <= 1:
            raise Protected(f"{username!r} is the only admin: make another admin first")
        if not user.disabled:
            self.repo.disable(user.id, datetime.now(UTC))
        return self.get(username)

    def enable(self, username: str) -> User:
        user = self.get(username)
        self.repo.set(user.id, disabled_at=None, failed_logins=0, locked_until=None)
        return self.get(username)

    def issue_password(self, username: str) -> tuple[User, str]:
        """Reset a password to a random one for an admin to hand over (shown once, never stored
        in clear); the user's sessions end."""
        password = secrets.token_urlsafe(15)
        return self.reset_password(username, password), password

    def count_sessions(self, username: str) -> int:
        return self.repo.count_sessions(self.get(username).id)

    # Logins and sessions -----------------------------------------------------

    def login(self, username: str, password: str, *, ip: str = "", user_agent: str = "",
              open_session: bool = True) -> tuple[User, str | None]:
        """A new session for the right password; raises Unauthorized or Throttled otherwise.
        With ``open_session=False`` (a second factor follows) only the password is checked."""
        now = self.clock()
        lockout = self.settings.login_lockout_minutes * 60
        with self._lock:
            address_locked = self._ip_locked.get(ip, 0) > now
        if address_locked:
            self._fail(username, ip, user_agent, "address locked")
            raise Throttled("too many failed logins from this address: try again later")
        row = self.repo.get((username or "").strip()[:200])
        ok = False
        try:
            ok = _hasher.verify(row.password_hash if row else _DUMMY, password or "")
        except (VerificationError, InvalidHashError):
            ok = False
        if row is not None and row.locked_until and row.locked_until > now:
            self._fail(username, ip, user_agent, "account locked")
            raise Throttled("too many failed logins for this account: try again later")
        if not ok or row is None:
            if row is not None:
                self.repo.record_failure(row.id, self.settings.login_max_failures, now + lockout)
            self._fail(username, ip, user_agent, "bad password" if row else "no such user")
            raise Unauthorized("wrong user name or password")
        if row.disabled_at is not None:
            self._fail(username, ip, user_agent, "account disabled")
            raise Unauthorized("this account is disabled: ask an admin")
        self.repo.set(row.id, failed_logins=0, locked_until=None)
        if not open_session:
            return self._user(row), None
        return self._user(row), self.open_session(row.id, ip=ip, user_agent=user_agent)

    def open_session(self, user_id: int, *, ip: str = "", user_agent: str = "") -> str:
        """A new console session for a user who proved who they are; returns the cookie's token."""
        token = secrets.token_urlsafe(32)
        self.repo.add_session(_hash(token), user_id, self.clock(), ip, user_agent)
        return token

    def second_factor_failed(self, username: str, ip: str, user_agent: str) -> None:
        """A wrong second-factor code counts like a wrong password (audit trail, address limit)."""
        self._fail(username, ip, user_agent, "wrong second factor")

    def _fail(self, username: str, ip: str, user_agent: str, reason: str) -> None:
        from rexwatch.services.audit import AuditService

        now = self.clock()
        with self._lock:
            q = self._ip_failures.setdefault(ip, deque())
            q.append(now)
            while q and q[0] < now - IP_WINDOW_S:
                q.popleft()
            if len(q) >= self.settings.login_max_failures:
                self._ip_locked[ip] = now + self.settings.login_lockout_minutes * 60
            if len(self._ip_failures) > 10_000:  # bounded memory under a spray from many addresses
                for k in [k for k, v in self._ip_failures.items() if not v or v[-1] < now - IP_WINDOW_S]:
                    self._ip_failures.pop(k, None)
        self.runtime.service(AuditService).failed_login(username or "", ip, user_agent, reason)

    def session(self, token: str) -> Principal | None:
        """The signed-in user of a session cookie, or None when it is unknown or expired."""
        if not token or len(token) > 100:
            return None
        id_hash = _hash(token)
        row = self.repo.session(id_hash)
        if row is None or row.disabled_at is not None:
            return None
        now = self.clock()
        if (now - row.last_seen_at > self.settings.session_idle_minutes * 60
                or now - row.created_at > self.settings.session_max_hours * 3600):
            self.repo.drop_session(id_hash)
            return None
        if now - row.last_seen_at > 30:  # written at most twice a minute per session
            self.repo.touch_session(id_hash, now)
        return Principal("user", row.username, row.role, user_id=row.user_id)

    def logout(self, token: str) -> None:
        self.repo.drop_session(_hash(token))

    def logout_everywhere(self, user_id: int) -> int:
        return self.repo.drop_sessions_of(user_id)

    def principal(self, username: str) -> Principal:
        u = self.get(username)
        return Principal("user", u.username, u.role, user_id=u.id)

    # Users of single sign-on providers ---------------------------------------------

    def create_external(self, username: str, role: str) -> User:
        """A user without a password, who signs in through a single sign-on provider."""
        username, role = check_username(username), check_role(role)
        self.repo.insert(username, EXTERNAL_HASH, role, datetime.now(UTC))
        return self.get(username)

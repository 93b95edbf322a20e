"""The optional second factor: TOTP codes (RFC 6238, 30-second steps, 6 digits) and recovery codes.

A user enrols from the console: ``start`` makes a secret (sealed with the server's secret key) and
the ``otpauth://`` URI an authenticator app reads from the QR code; ``confirm`` with a code from the
app turns the factor on and returns ten recovery codes, shown once and kept as hashes. From then on
signing in to the console takes the password and then a code (or an unused recovery code).

A code is accepted for the step before and after the current one (clock drift), but never twice:
the last step used is stored, so a code seen over someone's shoulder cannot be replayed. The step
between password and code is a challenge kept in memory for ``CHALLENGE_S`` with ``MAX_TRIES``
tries; failed codes go to the audit trail like failed passwords. An admin can turn the factor off
for a user who lost both (``reset``). API keys are separate credentials and are not affected.
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
import threading
import time
from dataclasses import dataclass

import pyotp

from rexwatch.errors import Conflict, Invalid, NotFound, Throttled, Unauthorized
from rexwatch.stores.control.recovery_repo import RecoveryRepo
from rexwatch.stores.control.users_repo import UsersRepo

STEP_S = 30
RECOVERY_CODES = 10
CHALLENGE_S = 300.0
MAX_TRIES = 5
ISSUER = "rexwatch"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _normal(code: str) -> str:
    return "".join((code or "").split()).replace("-", "").lower()[:64]


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str

    def qr_svg_data_uri(self) -> str:
        """The URI as a QR code, an SVG ``data:`` URI (the console's CSP allows data: images)."""
        import qrcode
        import qrcode.image.svg

        out = io.BytesIO()
        qrcode.make(self.uri, image_factory=qrcode.image.svg.SvgPathImage).save(out)
        return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


@dataclass
class _Challenge:
    user_id: int
    username: str
    expires: float
    tries: int = 0


class TotpService:
    def __init__(self, runtime, clock=time.time) -> None:
        self.runtime = runtime
        self.repo = RecoveryRepo(runtime.control)
        self.users = UsersRepo(runtime.control)
        self.clock = clock
        self._challenges: dict[str, _Challenge] = {}
        self._lock = threading.Lock()

    def _user(self, username: str):
        row = self.users.get(username)
        if row is None:
            raise NotFound(f"no user named {username!r}", field="username")
        return row

    def enabled(self, username: str) -> bool:
        row = self.users.get((username or "").strip()[:200])
        if row is None:
            return False
        t = self.repo.totp(row.id)
        return t is not None and t.enabled_at is not None

    def status(self, username: str) -> dict:
        user = self._user(username)
        t = self.repo.totp(user.id)
        on = t is not None and t.enabled_at is not None
        return {"username": user.username, "enabled": on,
                "recovery_codes_left": self.repo.recovery_codes_left(user.id) if on else 0}

    # Enrolment --------------------------------------------------------------------------------------

    def start(self, username: str) -> Enrolment:
        """A new secret to enrol (or the one waiting for confirmation); Conflict if already on."""
        user = self._user(username)
        t = self.repo.totp(user.id)
        if t is not None and t.enabled_at is not None:
            raise Conflict("the second factor is on already: turn it off first to enrol another authenticator")
        if t is None:
            secret = pyotp.random_base32()
            self.repo.start_totp(user.id, self.runtime.box.encrypt(secret))
        else:
            secret = self.runtime.box.decrypt(t.secret_enc)
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
        return Enrolment(secret, uri)

    def confirm(self, username: str, code: str) -> list[str]:
        """Turn the factor on with a code from the app; returns the recovery codes (shown once)."""
        user = self._user(username)
        t = self.repo.totp(user.id)
        if t is None:
            raise Invalid("start the enrolment first", field="code")
        if t.enabled_at is not None:
            raise Conflict("the second factor is on already")
        step = self._match(self.runtime.box.decrypt(t.secret_enc), code, t.last_step)
        if step is None:
            raise Invalid("that code is not the one the authenticator shows now: check the app and the "
                          "device's clock", field="code")
        codes = ["-".join(secrets.token_hex(5)[i:i + 5] for i in (0, 5)) for _ in range(RECOVERY_CODES)]
        self.repo.enable_totp(user.id, self.clock(), step, [_hash(_normal(c)) for c in codes])
        return codes

    def disable(self, username: str, code: str) -> None:
        """The user turns it off, proving it with a current code (or a recovery code)."""
        user = self._user(username)
        self._verify(user.id, code)
        self.repo.drop_totp(user.id)

    def reset(self, username: str) -> bool:
        """An admin turns it off for a user (lost authenticator and codes); False if it was off."""
        return self.repo.drop_totp(self._user(username).id)

    # Signing in -------------------------------------------------------------------------------------

    def challenge(self, user_id: int, username: str) -> str:
        """After the right password: a token for the page that asks for the code."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            for k in [k for k, c in self._challenges.items() if c.expires <= now]:
                del self._challenges[k]
            if len(self._challenges) > 10_000:  # bounded, whatever happens
                self._challenges.clear()
            self._challenges[_hash(token)] = _Challenge(user_id, username, now + CHALLENGE_S)
        return token

    def pending(self, token: str) -> str | None:
        """The user name a challenge is for, or None if it is unknown or expired."""
        with self._lock:
            c = self._challenges.get(_hash(token or ""))
        return c.username if c is not None and c.expires > self.clock() else None

    def answer(self, token: str, code: str) -> tuple[int, str]:
        """(user id, name) when ``code`` is right; Unauthorized (or Throttled past MAX_TRIES) if not."""
        key = _hash(token or "")
        with self._lock:
            c = self._challenges.get(key)
            if c is None or c.expires <= self.clock():
                self._challenges.pop(key, None)
                raise Unauthorized("the sign-in took too long or was not started: sign in again")
            c.tries += 1
            if c.tries > MAX_TRIES:
                del self._challenges[key]
                raise Throttled("too many wrong codes: sign in again")
        self._verify(c.user_id, code)
        with self._lock:
            self._challenges.pop(key, None)
        return c.user_id, c.username

    def _verify(self, user_id: int, code: str) -> None:
        t = self.repo.totp(user_id)
        if t is None or t.enabled_at is None:
            raise Invalid("the second factor is not on for this account", field="code")
        code = _normal(code)
        if len(code) == 6 and code.isdigit():
            step = self._match(self.runtime.box.decrypt(t.secret_enc), code, t.last_step)
            if step is not None and self.repo.use_step(user_id, step):
                return
        elif self.repo.use_recovery_code(user_id, _hash(code), self.clock()):
            return
        raise Unauthorized("wrong code")

    def _match(self, secret: str, code: str, last_step: int) -> int | None:
        """The time step (the current one or its neighbours) whose code is ``code``, if newer than
        ``last_step``."""
        code = _normal(code)
        if not (len(code) == 6 and code.isdigit()):
            return None
        totp = pyotp.TOTP(secret)
        now_step = int(self.clock()) // STEP_S
        for step in (now_step, now_step - 1, now_step + 1):
            if step > last_step and secrets.compare_digest(totp.at(step * STEP_S), code):
                return step
        return None

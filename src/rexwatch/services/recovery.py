"""Password reset links: issued by an admin, or mailed to a user who asks for one.

A reset token is 32 random bytes, kept only as its SHA-256 hash, good once and for
``RESET_MINUTES``; issuing a new one for a user retires the earlier ones. Redeeming it sets the new
password, unlocks the account and ends every session of the user (``UserService.reset_password``).

Mail goes to the user's address (``set_email``) through the SMTP server of the ``smtp_*``
settings or, with no ``smtp_host``, into the development mailbox (``rexwatch mail``), like
notification mail. Asking for a link answers the same whether the account exists, has an
address, or was sent a link a moment ago, so the page tells a stranger nothing about accounts.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from rexwatch.errors import Invalid, NotFound, RexwatchError, Unavailable
from rexwatch.services.users import UserService, check_password
from rexwatch.stores.control.recovery_repo import RecoveryRepo
from rexwatch.stores.control.users_repo import UsersRepo

log = logging.getLogger("rexwatch.users")

RESET_MINUTES = 30
# A user is mailed at most one link per this many seconds, however often the form is sent.
RESEND_S = 60.0
SMTP_TIMEOUT_S = 10.0
_ADDRESS = re.compile(r"[^@\s<>,;\"']{1,64}@[^@\s<>,;\"']{1,189}")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_email(email: str) -> str:
    email = (email or "").strip() if isinstance(email, str) else ""
    if not _ADDRESS.fullmatch(email):
        raise Invalid("email must be an address like name@example.com", field="email")
    return email


@dataclass(frozen=True)
class ResetLink:
    username: str
    url: str
    expires_at: float

    def view(self) -> dict:
        return {"username": self.username, "url": self.url, "expires_at": self.expires_at,
                "expires_in_minutes": RESET_MINUTES}


class PasswordResets:
    def __init__(self, runtime, clock=time.time) -> None:
        self.runtime = runtime
        self.repo = RecoveryRepo(runtime.control)
        self.users = UsersRepo(runtime.control)
        self.clock = clock

    @property
    def settings(self):
        return self.runtime.settings

    def _user(self, username: str):
        row = self.users.get(username)
        if row is None:
            raise NotFound(f"no user named {username!r}", field="username")
        return row

    # Addresses -------------------------------------------------------------------------------------

    def set_email(self, username: str, email: str | None) -> str | None:
        """Set (or with None / "", remove) the address a user's reset links are mailed to."""
        user = self._user(username)
        email = check_email(email) if email else None
        self.repo.set_email(user.id, email)
        return email

    def email_of(self, username: str) -> str | None:
        return self.repo.email_of(self._user(username).id)

    # Links -----------------------------------------------------------------------------------------

    def issue(self, username: str) -> ResetLink:
        """A new single-use link for ``username`` (an admin hands it over, or it is mailed)."""
        user = self._user(username)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + RESET_MINUTES * 60
        self.repo.add_token(_hash(token), user.id, now, expires)
        return ResetLink(user.username, f"{self.settings.base_url}/reset?token={token}", expires)

    def mail_link(self, username: str) -> str:
        """Mail a new link to the user's address; returns where it went (for the admin)."""
        email = self.email_of(username)
        if not email:
            raise Invalid(f"{username!r} has no email address: set one first", field="email")
        return self._send(email, self.issue(username))

    def request(self, who: str) -> None:
        """A reset asked for on the sign-in page by user name or address: mail a link if there is an
        account with an address and none was sent within ``RESEND_S``. Says nothing either way."""
        who = (who or "").strip()[:254]
        if not who:
            return
        row = self.users.get(who)
        targets = [(row.id, row.username)] if row is not None else []
        if not targets and "@" in who:
            targets = [(r.id, r.username) for r in self.repo.users_by_email(who)][:5]
        for user_id, username in targets:
            email = self.repo.email_of(user_id)
            last = self.repo.last_issued(user_id)
            if not email or (last is not None and self.clock() - last < RESEND_S):
                continue
            try:
                self._send(email, self.issue(username))
            except RexwatchError as e:  # the asker learns nothing; the operator reads the log
                log.warning("password reset mail for %s not sent: %s", username, e.message)

    def check(self, token: str) -> str:
        """The user name a token resets, or Invalid when it is unknown, used or expired."""
        row = self.repo.token(_hash(token)) if isinstance(token, str) and 0 < len(token) <= 100 else None
        if row is None or row.used_at is not None or row.expires_at <= self.clock():
            raise Invalid("this reset link is not valid: it was used, replaced by a newer one, or it expired "
                          f"({RESET_MINUTES} minutes). Ask for a new one.", field="token")
        return row.username

    def redeem(self, token: str, password: str) -> str:
        """Set the new password with a valid token (once); returns the user name."""
        username = self.check(token)
        check_password(password)  # before the token is spent: a too-short password costs nothing
        if not self.repo.use_token(_hash(token), self.clock()):
            raise Invalid("this reset link was used a moment ago: ask for a new one", field="token")
        self.runtime.service(UserService).reset_password(username, password)
        return username

    # Mail ------------------------------------------------------------------------------------------

    def _send(self, email: str, link: ResetLink) -> str:
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.smtp_from
        mail["To"] = email
        mail["Subject"] = "Reset your rexwatch password"
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain="rexwatch")
        mail.set_content(
            f"Someone (hopefully you) asked to reset the password of the rexwatch account {link.username}.\n\n"
            f"Choose a new password here within {RESET_MINUTES} minutes:\n\n{link.url}\n\n"
            "The link works once. If you did not ask for it, ignore this mail: your password stays as it is.\n")
        if not s.smtp_host:
            from rexwatch.services.notify.delivery import MAILBOX_KEEP
            from rexwatch.stores.control.mailbox_repo import MailboxRepo

            mail_id = MailboxRepo(self.runtime.control).keep(
                message_id=str(mail["Message-ID"]), kind="PasswordReset", to_addr=email,
                subject=str(mail["Subject"]), raw=mail.as_string(), keep=MAILBOX_KEEP)
            return f"kept in the local mailbox as mail {mail_id} (no smtp_host set)"
        from rexwatch.services.notify.providers.email import _smtp_send

        sent = _smtp_send(s, mail, SMTP_TIMEOUT_S)
        if not sent.ok:
            raise Unavailable(f"the reset mail to {email} was not sent: {sent.reason or sent.detail}")
        return sent.detail

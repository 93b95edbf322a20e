"""The development mailbox as the service shows it: list and read kept mail, find its links."""

from __future__ import annotations

import email
import re
from email import policy
from typing import Any

from rexwatch.errors import Invalid, NotFound
from rexwatch.services.notify.base import ServiceBase
from rexwatch.stores.control.mailbox_repo import MailboxRepo

_LINK = re.compile(r"https?://[^\s<>\"']+")


class MailboxMixin(ServiceBase):
    @property
    def _mailbox(self) -> MailboxRepo:
        return MailboxRepo(self.engine)

    def list_mail(self, limit: int = 50, to: str | None = None) -> list[dict[str, Any]]:
        if not 1 <= limit <= 1000:
            raise Invalid("limit must be 1-1000", field="limit")
        return self._mailbox.list(limit, to)

    def get_mail(self, mail_id: int | None = None) -> dict[str, Any]:
        """One kept mail (the newest when ``mail_id`` is None): headers, text body and its links."""
        row = self._mailbox.get(mail_id)
        if row is None:
            raise NotFound("the local mailbox is empty" if mail_id is None else f"mail {mail_id} does not exist")
        msg = email.message_from_string(row["raw"], policy=policy.default)
        part = msg.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else ""
        return {
            "id": row["id"],
            "message_id": row["message_id"],
            "kind": row["kind"],
            "to": row["to_addr"],
            "from": str(msg["From"] or ""),
            "subject": row["subject"],
            "date": str(msg["Date"] or ""),
            "created_at": row["created_at"],
            "text": text,
            "links": list(dict.fromkeys(_LINK.findall(text))),
            "confirm_url": next((u for u in _LINK.findall(text) if "/sns/confirm?" in u), None),
            "raw": row["raw"],
        }

"""Email over SMTP (settings ``smtp_*``): readable text + HTML for alarms; email-json sends the envelope."""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import orjson

from rexwatch import netpolicy
from rexwatch.errors import Invalid
from rexwatch.services.notify import messages
from rexwatch.services.notify.providers.base import (
    Delivery,
    Outgoing,
    Provider,
    RetryPolicy,
    SendContext,
    scrub,
)

_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")


class EmailProvider(Provider):
    protocols = ("email", "email-json")
    transport = "smtp"
    needs_confirmation = True
    retry = RetryPolicy(max_attempts=8, base_s=5.0, cap_s=900.0)

    def validate(self, protocol: str, endpoint: str, attributes: dict[str, str]) -> str:
        addr = endpoint.strip()
        if not _ADDRESS.match(addr):
            raise Invalid(f"Invalid parameter: Endpoint: {addr!r} is not an email address", field="Endpoint")
        return addr

    def redact(self, endpoint: str) -> str:
        return endpoint  # an address is what the operator needs to see

    def secrets(self, msg: Outgoing) -> list[str]:
        return [msg.secret]

    def destinations(self, endpoint: str, attributes: dict[str, str]) -> list[tuple[str, str]]:
        return []  # mail goes to the operator's SMTP host, checked at each connection

    def build(self, msg: Outgoing, sender: str, graph: bytes | None = None) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = sender
        mail["To"] = msg.endpoint
        mail["Subject"] = messages.subject_for(msg).replace("\n", " ")
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(idstring=msg.message_id.replace("-", ""), domain="rexwatch")
        mail["X-Rexwatch-Message-Id"] = msg.message_id
        mail["X-Rexwatch-Topic-Arn"] = msg.topic_arn
        if msg.kind == "Notification":
            mail["List-Unsubscribe"] = f"<{msg.unsubscribe_url}>"
        if msg.protocol == "email-json":
            mail.set_content(orjson.dumps(messages.envelope(msg)).decode())
            return mail
        text, page = messages.email_bodies(msg)
        mail.set_content(text)
        if page:
            cid = make_msgid(domain="rexwatch") if graph else None
            if cid:
                # The alarm's graph, inline in the HTML part (multipart/related), as Grafana mails it.
                page = page.replace("</body>", f"<p><img src='cid:{cid[1:-1]}' width='600' alt='Graph of the "
                                               f"alarm metric around the state change'></p></body>", 1)
            mail.add_alternative(page, subtype="html")
            if cid and graph:
                mail.get_payload()[1].add_related(graph, "image", "png", cid=cid, filename="alarm-graph.png")
        return mail

    async def send(self, msg: Outgoing, ctx: SendContext) -> Delivery:
        s = ctx.settings
        graph = None
        if msg.alarm and msg.protocol == "email" and msg.kind == "Notification" and "alarm_graph" in ctx.extra:
            try:
                graph = await ctx.extra["alarm_graph"](msg)
            except Exception:  # a graph is a nicety: the mail goes without it
                graph = None
        mail = self.build(msg, s.smtp_from, graph)
        if not s.smtp_host:
            # No mail server configured: keep the mail where `rexwatch mail` and /api/v1/mail show it.
            keep = ctx.extra.get("mailbox")
            if keep is None:
                return Delivery(False, False, "no smtp_host is set and no local mailbox is available")
            mail_id = await keep(msg, mail)
            return Delivery(True, status=250, detail=f"kept in the local mailbox as mail {mail_id} "
                                                     f"(no smtp_host set; see: rexwatch mail show {mail_id})")
        try:
            return await asyncio.wait_for(asyncio.to_thread(_smtp_send, s, mail, ctx.timeout), ctx.timeout * 3)
        except TimeoutError:
            return Delivery(False, True, f"SMTP timed out after {ctx.timeout:g}s")
        except Exception as e:  # report, never raise, whatever the mail server does
            return Delivery(False, True, scrub(f"{type(e).__name__}: {e}", self.secrets(msg)))


def _smtp_send(s, mail: EmailMessage, timeout: float) -> Delivery:
    password = s.smtp_password.get_secret_value()
    try:
        pol = netpolicy.policy(s)
        if s.smtp_tls == "tls":
            client: smtplib.SMTP = netpolicy.SMTP_SSL(pol, s.smtp_host, s.smtp_port, timeout,
                                                      ssl.create_default_context())
        else:
            client = netpolicy.SMTP(pol, s.smtp_host, s.smtp_port, timeout)
        with client:
            if s.smtp_tls == "starttls":
                client.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                client.login(s.smtp_user, password)
            refused = client.send_message(mail)
        if refused:
            return Delivery(False, False, f"recipient refused: {next(iter(refused.values()))!r}")
        return Delivery(True, status=250, detail=f"accepted by SMTP server {s.smtp_host}:{s.smtp_port}")
    except smtplib.SMTPResponseException as e:
        # 4xx is a temporary failure (retry); 5xx is permanent.
        text = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        return Delivery(False, 400 <= e.smtp_code < 500, scrub(f"SMTP {e.smtp_code}: {text}", [password]),
                        e.smtp_code)
    except smtplib.SMTPRecipientsRefused as e:
        code, text = next(iter(e.recipients.values()))
        return Delivery(False, 400 <= code < 500, f"SMTP {code}: {text!r}", code)
    except TimeoutError:
        return Delivery(False, True, f"SMTP timed out after {timeout:g}s")
    except netpolicy.Refused as e:
        return Delivery(False, False, f"SMTP host refused by the address policy: {e}")
    except (OSError, smtplib.SMTPException) as e:
        return Delivery(False, True, scrub(f"{type(e).__name__}: {e}", [password]))

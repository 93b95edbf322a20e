"""The dispatcher: claim due outbox rows, send them with bounded concurrency, record outcomes.

Used by the ``notify`` worker and by ``test-topic`` (which drives one message
to completion). Rows are leased, not locked for the send: a notifier that dies
mid-send leaves a lease that expires, and the row is sent again with the same
MessageId (at-least-once; receivers drop duplicates by MessageId).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import uuid
from typing import Any

from rexwatch import netpolicy
from rexwatch.errors import ConfigError, Invalid
from rexwatch.services.notify import messages
from rexwatch.services.notify.providers import Delivery, Outgoing, SendContext, provider
from rexwatch.services.notify.providers.base import HttpPool
from rexwatch.services.notify.service import NotifyService
from rexwatch.stores.control import notify_repo as store
from rexwatch.stores.control.mailbox_repo import MailboxRepo

log = logging.getLogger("rexwatch.notify")

CLAIM_BATCH = 256
MAILBOX_KEEP = 1000  # mails the development mailbox holds; older ones go
# Connections per receiver host (measured: small pools are much faster in httpx; see bench/RESULTS.md).
PER_ORIGIN = 8


def lease_seconds(timeout: float) -> float:
    # Long enough for one send to finish (SMTP may take three timeouts), short enough to recover soon.
    return timeout * 3 + 2


class Dispatcher:
    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        self.svc = runtime.service(NotifyService)
        self.owner = f"{uuid.uuid4().hex[:12]}"
        s = runtime.settings
        self.timeout = s.notify_timeout_s
        self.concurrency = s.notify_concurrency
        self._secrets: dict[str, str] = {}
        self.mailbox = MailboxRepo(runtime.control)

    def new_client(self) -> HttpPool:
        return HttpPool(per_origin=min(self.concurrency, PER_ORIGIN), timeout=self.timeout,
                        policy=netpolicy.policy(self.rt.settings))

    # Store side (threads) ---------------------------------------------------------------------------

    def claim(self, limit: int, message_id: str | None = None) -> list[Outgoing | dict[str, Any]]:
        now = dt.datetime.now(dt.UTC)
        until = now + dt.timedelta(seconds=lease_seconds(self.timeout))
        with self.rt.control.begin() as conn:
            rows = store.claim(conn, self.owner, now, until, limit, message_id)
        return [self._outgoing(r) for r in rows]

    def _outgoing(self, r: Any) -> Outgoing | dict[str, Any]:
        if r.sub_exists is None:
            return {"id": r.id, "gone": True}
        secret = self._secrets.get(r.subscription_id)
        if secret is None:
            try:
                secret = self.rt.box.decrypt(r.secret_enc)
            except ConfigError as e:  # the secret key changed: this row can never be signed
                return {"id": r.id, "gone": True, "reason": str(e)}
            self._secrets[r.subscription_id] = secret
        try:
            endpoint = self.rt.box.unseal(r.endpoint)
        except ConfigError as e:
            return {"id": r.id, "gone": True, "reason": str(e)}
        topic_name = r.topic_arn.rsplit(":", 1)[-1]
        alarm = messages.alarm_of(r.message) if r.kind == "Notification" else None
        return Outgoing(
            delivery_id=r.id,
            message_id=r.message_id,
            kind=r.kind,
            topic_arn=r.topic_arn,
            subscription_arn=self.svc.subscription_arn(topic_name, r.subscription_id),
            protocol=r.protocol,
            endpoint=endpoint,
            subject=r.subject,
            message=r.message,
            attributes=json.loads(r.attributes or "{}"),
            published_at=r.published_at,
            attempt=r.attempts,
            secret=secret,
            token=r.token,
            sub_attributes=json.loads(r.sub_attributes or "{}"),
            base_url=self.rt.settings.base_url,
            region=self.rt.settings.region,
            alarm=alarm,
        )

    def record(self, outcomes: list[tuple[Any, Delivery]]) -> None:
        now = dt.datetime.now(dt.UTC)
        results = []
        for item, d in outcomes:
            if isinstance(item, dict):
                results.append(
                    {
                        "id": item["id"],
                        "status": "dead",
                        "next_attempt_at": now,
                        "last_error": item.get("reason", "subscription was deleted"),
                        "updated_at": now,
                    }
                )
                continue
            res: dict[str, Any] = {"id": item.delivery_id, "updated_at": now, "last_status": d.status}
            if d.ok:
                res.update(status="delivered", next_attempt_at=now, delivered_at=now, last_error=None,
                           detail=d.detail or None)
            else:
                policy = provider(item.protocol).retry
                if d.retryable and item.attempt < policy.max_attempts:
                    wait = policy.delay(item.attempt) * self.rt.settings.notify_backoff_scale
                    res.update(
                        status="pending",
                        next_attempt_at=now + dt.timedelta(seconds=wait),
                        last_error=d.reason,
                    )
                else:
                    res.update(status="dead", next_attempt_at=now, last_error=d.reason)
                    log.warning(
                        "notification dead-lettered",
                        extra={
                            "delivery_id": item.delivery_id,
                            "message_id": item.message_id,
                            "protocol": item.protocol,
                            "attempts": item.attempt,
                            "reason": d.reason,
                        },
                    )
            results.append(res)
        with self.rt.control.begin() as conn:
            store.finish(conn, self.owner, results)

    async def _keep_mail(self, msg: Outgoing, mail: Any) -> int:
        """The development mailbox (no smtp_host): store the mail as it would have been sent."""
        return await asyncio.to_thread(
            self.mailbox.keep, message_id=msg.message_id, kind=msg.kind, to_addr=msg.endpoint,
            subject=str(mail["Subject"] or ""), raw=mail.as_string(), keep=MAILBOX_KEEP)

    async def _alarm_graph(self, msg: Outgoing) -> bytes | None:
        """A PNG of the alarm's metric around the transition, for an alarm notification (or None)."""
        from rexwatch.services.dashboards.alarm_graph import alarm_graph_png

        return await asyncio.to_thread(alarm_graph_png, self.rt, msg.topic_arn, msg.message)

    # Network side (event loop) ----------------------------------------------------------------------

    async def send_all(self, items: list[Any], http: HttpPool) -> list[tuple[Any, Delivery]]:
        sem = asyncio.Semaphore(self.concurrency)
        ctx = SendContext(http=http, settings=self.rt.settings, timeout=self.timeout,
                          extra={"mailbox": self._keep_mail, "alarm_graph": self._alarm_graph})

        async def one(item: Any) -> tuple[Any, Delivery]:
            if isinstance(item, dict):
                return item, Delivery(False, False, "subscription was deleted")
            async with sem:
                try:
                    return item, await provider(item.protocol).send(item, ctx)
                except Invalid as e:
                    return item, Delivery(False, False, e.message)
                except Exception as e:  # a provider bug must not stop the others
                    log.exception("provider %s failed", item.protocol)
                    return item, Delivery(False, True, f"internal error: {type(e).__name__}")

        return list(await asyncio.gather(*(one(i) for i in items)))

    async def run_once(self, http: HttpPool, message_id: str | None = None) -> int:
        items = await asyncio.to_thread(self.claim, CLAIM_BATCH, message_id)
        if not items:
            return 0
        outcomes = await self.send_all(items, http)
        await asyncio.to_thread(self.record, outcomes)
        return len(items)

    async def drive_message(self, message_id: str, timeout: float) -> list[dict[str, Any]]:
        """Deliver one message's rows now (whoever holds them) until all are final or ``timeout``."""
        deadline = time.monotonic() + timeout
        async with self.new_client() as http:
            while True:
                await self.run_once(http, message_id)
                rows = await asyncio.to_thread(self.svc.message_deliveries, message_id)
                if all(r["status"] in store.FINAL for r in rows) or time.monotonic() >= deadline:
                    return rows
                await asyncio.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

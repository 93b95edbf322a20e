"""The delivery log, dead letters and replay."""

from __future__ import annotations

from typing import Any

from rexwatch.errors import ConfigError, Invalid
from rexwatch.services.notify import arns
from rexwatch.services.notify.base import (
    ServiceBase,
    _now,
)
from rexwatch.services.notify.providers import provider
from rexwatch.stores.control import notify_repo as store


class DeliveryLogMixin(ServiceBase):
    def deliveries(
        self,
        *,
        status: str | None = None,
        topic_arn: str | None = None,
        message_id: str | None = None,
        subscription_arn: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        if status and status not in ("pending", "delivered", "dead"):
            raise Invalid("status must be pending, delivered or dead", field="status")
        limit = max(1, min(int(limit), 1000))
        name = arns.topic_name(topic_arn) if topic_arn else None
        sub_id = arns.subscription_id(subscription_arn) if subscription_arn else None
        with self.engine.connect() as conn:
            rows = store.deliveries(
                conn,
                status=status,
                topic_arn_name=name,
                message_id=message_id,
                subscription_id=sub_id,
                before_id=before_id,
                limit=limit,
            )
        return [self._delivery(r) for r in rows]

    def _delivery(self, r: Any) -> dict[str, Any]:
        topic_name = r.topic_arn.rsplit(":", 1)[-1]
        try:
            endpoint = provider(r.protocol).redact(self.rt.box.unseal(r.endpoint)) if r.endpoint is not None else None
        except (Invalid, ConfigError):
            endpoint = None
        state = r.status
        if state == "pending" and r.lease_until is not None:
            state = "sending"
        return {
            "id": r.id,
            "message_id": r.message_id,
            "kind": r.kind,
            "topic_arn": r.topic_arn,
            "subscription_arn": self.subscription_arn(topic_name, r.subscription_id),
            "protocol": r.protocol,
            "endpoint": endpoint,
            "status": state,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "detail": r.detail,
            "last_status": r.last_status,
            "published_at": r.published_at,
            "next_attempt_at": r.next_attempt_at if r.status == "pending" else None,
            "delivered_at": r.delivered_at,
        }

    def message_deliveries(self, message_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [self._delivery(r) for r in store.message_rows(conn, message_id)]

    def replay(self, ids: list[int] | None = None) -> int:
        """Put dead letters (all, or the given ids) back in the queue with fresh attempts."""
        with self.engine.begin() as conn:
            n = store.replay(conn, ids, _now())
        if n:
            self.wake()
        return n

"""Shared parts of NotifyService: constants, result types, ARNs and wake-ups."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from rexwatch.errors import NotFound
from rexwatch.services.notify import arns
from rexwatch.stores.control import notify_repo as store

MAX_MESSAGE_BYTES = 256 * 1024
MAX_BATCH = 10
PAGE = 100

TOPIC_ATTRIBUTES = {
    "DisplayName",
    "Policy",
    "DeliveryPolicy",
    "KmsMasterKeyId",
    "TracingConfig",
    "SignatureVersion",
    "ArchivePolicy",
    "FifoTopic",
    "ContentBasedDeduplication",
}
SUBSCRIPTION_ATTRIBUTES = {
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "DeliveryPolicy",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "SkipConfirmation",
    "EventsUrl",
}
# Rexwatch's own subscription attribute: an administrator confirms a subscription without the
# confirmation round trip (an address that cannot click links, a receiver that cannot answer).
SKIP_CONFIRMATION = "SkipConfirmation"


@dataclass
class Enqueued:
    message_id: str
    deliveries: int


@dataclass
class Subscription:
    id: str
    arn: str
    topic_arn: str
    protocol: str
    endpoint: str  # redacted for display
    status: str
    attributes: dict[str, str] = field(default_factory=dict)
    created_at: dt.datetime | None = None
    confirmed_at: dt.datetime | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _json(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


class ServiceBase:
    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        self.engine = runtime.control
        self.region = runtime.settings.region
        self.account = runtime.settings.account_id
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    # Wake-ups: the notifier in this process listens so a publish is sent at once.

    def add_listener(self, fn: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def wake(self) -> None:
        """Tell notifiers in this process that deliveries are due (call after committing an enqueue)."""
        for fn in list(self._listeners):
            try:
                fn()
            except Exception:
                pass

    # ARNs

    def topic_arn(self, name: str) -> str:
        return arns.topic_arn(self.region, self.account, name)

    def subscription_arn(self, topic_name: str, sub_id: str) -> str:
        return f"{self.topic_arn(topic_name)}:{sub_id}"

    def _topic(self, conn: Connection, arn: str, field_name: str = "TopicArn") -> Any:
        name = arns.topic_name(arn, field_name)
        row = store.topic_by_name(conn, name)
        if row is None:
            raise NotFound(f"Topic does not exist: {arn}", field=field_name)
        return row

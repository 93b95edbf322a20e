"""Adapters from the alarms service to the metrics and notify services.

The evaluator reads statistics through ``StatsSource.fetch`` (one call for all
due alarms) and queues notifications through ``Notifier.enqueue`` inside the
transaction that records the transition.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from rexwatch.errors import Unavailable
from rexwatch.services.alarms.evaluator import Datapoint
from rexwatch.services.alarms.model import StatQuery


class MetricsStats:
    """Statistics from the metrics service's batched query."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def fetch(
        self, queries: Sequence[StatQuery], start: float, end: float
    ) -> dict[StatQuery, list[Datapoint]]:
        try:
            from rexwatch.services.metrics import MetricsService  # type: ignore[import-not-found]
        except ImportError:
            raise Unavailable("the metrics service is not available in this build")
        svc = self.runtime.service(MetricsService)
        return svc.get_statistics_batch(queries, start, end)


class OutboxNotifier:
    """Publishes to SNS topics through the notify service's transactional outbox."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def enqueue(self, conn: Connection, topic_arn: str, subject: str, message: str, dedup_id: str) -> None:
        try:
            from rexwatch.services.notify import NotifyService  # type: ignore[import-not-found]
        except ImportError:
            raise Unavailable("the notify service is not available in this build")
        # A MessageId derived from the transition keeps it stable if the same transition is re-queued.
        message_id = str(uuid.uuid5(uuid.NAMESPACE_URL, dedup_id))
        self.runtime.service(NotifyService).enqueue(
            conn, topic_arn, message, subject=subject, message_id=message_id
        )

"""Notifications: SNS topics and subscriptions, delivery providers and the outbox.

``NotifyService.enqueue(conn, topic_arn, message, ...)`` writes a message's
deliveries inside the caller's transaction; the ``notify`` worker
(``delivery.Dispatcher``) claims and sends them.
"""

from rexwatch.services.notify.service import Enqueued, NotifyService, Subscription

__all__ = ["Enqueued", "NotifyService", "Subscription"]

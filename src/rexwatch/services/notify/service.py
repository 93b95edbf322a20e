"""NotifyService: SNS topics and subscriptions, publishing into the delivery outbox.

The service is one class assembled from one module per concern.
"""

from __future__ import annotations

from rexwatch.services.notify.base import Enqueued, Subscription
from rexwatch.services.notify.deliverylog import DeliveryLogMixin
from rexwatch.services.notify.mailbox import MailboxMixin
from rexwatch.services.notify.publishing import PublishingMixin
from rexwatch.services.notify.subscriptions import SubscriptionsMixin
from rexwatch.services.notify.topics import TopicsMixin


class NotifyService(TopicsMixin, SubscriptionsMixin, PublishingMixin, DeliveryLogMixin, MailboxMixin):
    """Topics, subscriptions, publishing (``enqueue`` inside a caller's transaction) and the delivery log."""

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        # A store written by an older version holds endpoints in plain text: seal them once.
        self.seal_stored_endpoints()


__all__ = ["Enqueued", "NotifyService", "Subscription"]

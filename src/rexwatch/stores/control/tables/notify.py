"""Notifications: topics, subscriptions and the delivery outbox."""

from sqlalchemy import Column, Index, Integer, String, Table, Text

from rexwatch.stores.control.tables import metadata
from rexwatch.stores.control.types import UTCDateTime

notify_topics = Table(
    "notify_topics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Topics are identified by name; ARNs naming any region/account resolve by name.
    Column("name", String(256), nullable=False, unique=True),
    Column("attributes", Text, nullable=False, default="{}"),  # JSON: DisplayName, Policy, ...
    Column("tags", Text, nullable=False, default="{}"),
    Column("created_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

notify_subscriptions = Table(
    "notify_subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),  # the uuid at the end of the subscription ARN
    Column("topic_id", Integer, nullable=False, index=True),
    Column("protocol", String(32), nullable=False),
    # Sealed (encrypted, ``enc:`` prefix): webhook URLs and routing keys are credentials.
    Column("endpoint", Text, nullable=False),
    # Keyed hash of protocol and endpoint: finds an existing subscription without the plain endpoint.
    Column("endpoint_hash", String(64)),
    # 'pending' until confirmed (email/http), then 'confirmed'.
    Column("status", String(16), nullable=False),
    Column("token", String(128), nullable=False),  # confirmation token
    Column("secret_enc", Text, nullable=False),  # encrypted per-subscription HMAC signing secret
    Column("attributes", Text, nullable=False, default="{}"),  # FilterPolicy, RawMessageDelivery, ...
    Column("created_at", UTCDateTime(), nullable=False),
    Column("confirmed_at", UTCDateTime()),
    Index("ix_notify_subscriptions_lookup", "topic_id", "protocol", "endpoint_hash"),
)

notify_outbox = Table(
    "notify_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False),  # stable across retries: receivers dedup on it
    Column("subscription_id", String(36), nullable=False, index=True),
    Column("topic_arn", String(400), nullable=False),
    Column("kind", String(24), nullable=False),  # Notification | SubscriptionConfirmation
    Column("protocol", String(32), nullable=False),
    Column("subject", Text),
    Column("message", Text, nullable=False),
    Column("attributes", Text, nullable=False, default="{}"),  # MessageAttributes (JSON)
    Column("published_at", UTCDateTime(), nullable=False),
    # pending -> delivered | dead; a claimed row carries a lease (owner, until).
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime()),
    Column("last_error", Text),
    Column("last_status", Integer),
    # What happened, in words, for every outcome (delivered too): "HTTP 200", "kept in the local mailbox …".
    Column("detail", Text),
    Column("delivered_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_notify_outbox_due", "status", "next_attempt_at"),
    Index("ix_notify_outbox_message", "message_id"),
    sqlite_autoincrement=True,
)

# The development mailbox: with no ``smtp_host``, outgoing mail is kept here (newest MAILBOX_KEEP) and
# shown by ``rexwatch mail`` and /api/v1/mail instead of being sent.
notify_mailbox = Table(
    "notify_mailbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False),  # the notification's MessageId
    Column("kind", String(24), nullable=False),  # Notification | SubscriptionConfirmation
    Column("to_addr", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("raw", Text, nullable=False),  # the whole message as it would have been sent (RFC 5322)
    Column("created_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

"""NotifyService: SNS topics and subscriptions, publishing into the delivery outbox."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from rexwatch.errors import Invalid, NotFound
from rexwatch.services.notify import arns, filterpolicy, signing, store
from rexwatch.services.notify.providers import provider

MAX_MESSAGE_BYTES = 256 * 1024
MAX_BATCH = 10
PAGE = 100

TOPIC_ATTRIBUTES = {"DisplayName", "Policy", "DeliveryPolicy", "KmsMasterKeyId", "TracingConfig",
                    "SignatureVersion", "ArchivePolicy", "FifoTopic", "ContentBasedDeduplication"}
SUBSCRIPTION_ATTRIBUTES = {"FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "DeliveryPolicy",
                           "RedrivePolicy", "SubscriptionRoleArn", "SkipConfirmation", "EventsUrl"}
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


class NotifyService:
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

    def _wake(self) -> None:
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

    # Topics -----------------------------------------------------------------------------------------

    def create_topic(self, name: str, attributes: dict[str, str] | None = None,
                     tags: list[dict[str, str]] | None = None) -> str:
        arns.check_topic_name(name)
        attributes = dict(attributes or {})
        self._check_topic_attributes(attributes)
        with self.engine.begin() as conn:
            row = store.topic_by_name(conn, name)
            if row is not None:
                current = _json(row.attributes)
                clash = [k for k, v in attributes.items() if k in current and current[k] != v]
                if clash:
                    raise Invalid(
                        f"Invalid parameter: Attributes Reason: Topic already exists with different "
                        f"attributes ({', '.join(clash)})"
                    )
                return self.topic_arn(name)
            tag_map = {t["Key"]: t.get("Value", "") for t in tags or []}
            store.insert_topic(conn, name, json.dumps(attributes), json.dumps(tag_map), _now())
        return self.topic_arn(name)

    def list_topics(self, next_token: str | None = None) -> tuple[list[str], str | None]:
        with self.engine.connect() as conn:
            rows = store.list_topics(conn, next_token or "", PAGE + 1)
        names = [r.name for r in rows]
        more = len(names) > PAGE
        names = names[:PAGE]
        return [self.topic_arn(n) for n in names], (names[-1] if more else None)

    def delete_topic(self, arn: str) -> None:
        name = arns.topic_name(arn)
        with self.engine.begin() as conn:
            row = store.topic_by_name(conn, name)
            if row is not None:  # deleting a missing topic succeeds, as in SNS
                store.delete_topic(conn, row.id)

    def topic_exists(self, conn: Connection, arn: str) -> bool:
        try:
            return store.topic_by_name(conn, arns.topic_name(arn)) is not None
        except Invalid:
            return False

    def get_topic_attributes(self, arn: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            row = self._topic(conn, arn)
            counts = store.subscription_counts(conn, row.id)
        attrs = _json(row.attributes)
        topic_arn = self.topic_arn(row.name)
        out = {
            "TopicArn": topic_arn,
            "Owner": self.account,
            "DisplayName": attrs.get("DisplayName", ""),
            "SubscriptionsConfirmed": str(counts.get("confirmed", 0)),
            "SubscriptionsPending": str(counts.get("pending", 0)),
            "SubscriptionsDeleted": "0",
            "Policy": attrs.get("Policy") or json.dumps(self._default_policy(topic_arn)),
            "EffectiveDeliveryPolicy": json.dumps(
                {"http": {"defaultHealthyRetryPolicy": {"numRetries": 7, "minDelayTarget": 2,
                                                        "maxDelayTarget": 600, "backoffFunction": "exponential"}}}
            ),
        }
        out.update({k: v for k, v in attrs.items() if k not in out or k == "DisplayName"})
        return out

    def _default_policy(self, arn: str) -> dict[str, Any]:
        return {
            "Version": "2008-10-17",
            "Id": "__default_policy_ID",
            "Statement": [{"Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
                           "Action": ["SNS:Publish", "SNS:Subscribe"], "Resource": arn}],
        }

    def _check_topic_attributes(self, attributes: dict[str, str]) -> None:
        for k, v in attributes.items():
            if k not in TOPIC_ATTRIBUTES:
                raise Invalid(f"Invalid parameter: AttributeName: unknown topic attribute {k!r}",
                              field="AttributeName")
            if k == "FifoTopic" and v == "true":
                raise Invalid("Invalid parameter: FifoTopic: FIFO topics are not supported", field="FifoTopic")
            if k in ("Policy", "DeliveryPolicy") and v:
                try:
                    json.loads(v)
                except ValueError:
                    raise Invalid(f"Invalid parameter: {k}: not valid JSON", field=k)
            if k == "DisplayName" and len(v) > 100:
                raise Invalid("Invalid parameter: DisplayName: at most 100 characters", field=k)

    def set_topic_attributes(self, arn: str, name: str, value: str | None) -> None:
        self._check_topic_attributes({name: value or ""})
        with self.engine.begin() as conn:
            row = self._topic(conn, arn)
            attrs = _json(row.attributes)
            attrs[name] = value or ""
            store.update_topic(conn, row.id, attributes=json.dumps(attrs))

    # Subscriptions ----------------------------------------------------------------------------------

    def _check_sub_attributes(self, protocol: str, attributes: dict[str, str]) -> dict[str, str]:
        out = {}
        for k, v in attributes.items():
            if k not in SUBSCRIPTION_ATTRIBUTES:
                raise Invalid(f"Invalid parameter: Attributes: unknown subscription attribute {k!r}",
                              field="Attributes")
            out[k] = v
        scope = out.get("FilterPolicyScope", "MessageAttributes")
        if scope not in ("MessageAttributes", "MessageBody"):
            raise Invalid("Invalid parameter: FilterPolicyScope: MessageAttributes or MessageBody",
                          field="FilterPolicyScope")
        if out.get("FilterPolicy"):
            filterpolicy.parse(out["FilterPolicy"], scope)
        for flag in ("RawMessageDelivery", SKIP_CONFIRMATION):
            if flag in out and out[flag] not in ("true", "false"):
                raise Invalid(f"Invalid parameter: {flag}: true or false", field=flag)
        if out.get("RawMessageDelivery") == "true" and protocol not in ("http", "https"):
            raise Invalid("Invalid parameter: RawMessageDelivery applies to http and https only",
                          field="RawMessageDelivery")
        return out

    def subscribe(self, topic_arn: str, protocol: str, endpoint: str,
                  attributes: dict[str, str] | None = None, return_arn: bool = False) -> str:
        if not protocol:
            raise Invalid("Invalid parameter: Protocol is required", field="Protocol")
        protocol = protocol.lower()
        prov = provider(protocol)
        attributes = self._check_sub_attributes(protocol, dict(attributes or {}))
        endpoint = prov.validate(protocol, endpoint or "", attributes)
        skip = attributes.pop(SKIP_CONFIRMATION, "false") == "true"
        needs = prov.needs_confirmation and not skip
        now = _now()
        with self.engine.begin() as conn:
            topic = self._topic(conn, topic_arn)
            existing = store.find_subscription(conn, topic.id, protocol, endpoint)
            if existing is not None:
                arn = self.subscription_arn(topic.name, existing.id)
                if existing.status == "confirmed" or return_arn:
                    return arn
                return "pending confirmation"
            sub_id = str(uuid.uuid4())
            token = signing.new_token()
            store.insert_subscription(
                conn, id=sub_id, topic_id=topic.id, protocol=protocol, endpoint=endpoint,
                status="pending" if needs else "confirmed", token=token,
                secret_enc=self.rt.box.encrypt(signing.new_secret()),
                attributes=json.dumps(attributes), created_at=now, confirmed_at=None if needs else now,
            )
            arn = self.subscription_arn(topic.name, sub_id)
            if needs:
                self._enqueue_rows(conn, self.topic_arn(topic.name), str(uuid.uuid4()), "SubscriptionConfirmation",
                                   [(sub_id, protocol)], "", None, {}, now)
        if needs:
            self._wake()
            return arn if return_arn else "pending confirmation"
        return arn

    def confirm_subscription(self, topic_arn: str, token: str) -> str:
        if not token:
            raise Invalid("Invalid parameter: Token is required", field="Token")
        with self.engine.begin() as conn:
            topic = self._topic(conn, topic_arn)
            sub = store.subscription_by_token(conn, topic.id, token)
            if sub is None:
                raise Invalid("Invalid token", field="Token")
            if sub.status != "confirmed":
                store.update_subscription(conn, sub.id, status="confirmed", confirmed_at=_now())
            return self.subscription_arn(topic.name, sub.id)

    def admin_confirm(self, sub_arn: str) -> Subscription:
        """Confirm without the token round trip (an administrator's decision)."""
        sub_id = arns.subscription_id(sub_arn)
        with self.engine.begin() as conn:
            sub = self._sub(conn, sub_id)
            if sub.status != "confirmed":
                store.update_subscription(conn, sub_id, status="confirmed", confirmed_at=_now())
            return self._sub_info(self._sub(conn, sub_id))

    def _sub(self, conn: Connection, sub_id: str) -> Any:
        row = store.subscription(conn, sub_id)
        if row is None:
            raise NotFound(f"Subscription does not exist: {sub_id}", field="SubscriptionArn")
        return row

    def unsubscribe(self, sub_arn: str) -> None:
        sub_id = arns.subscription_id(sub_arn)
        with self.engine.begin() as conn:
            self._sub(conn, sub_id)
            store.delete_subscription(conn, sub_id)

    def unsubscribe_with_token(self, sub_arn: str, token: str) -> bool:
        """The link in every notification: valid only with the subscription's own token."""
        import hmac

        sub_id = arns.subscription_id(sub_arn)
        with self.engine.begin() as conn:
            sub = store.subscription(conn, sub_id)
            if sub is None:
                return False
            expected = signing.unsubscribe_token(self.rt.box.decrypt(sub.secret_enc))
            if not hmac.compare_digest(expected, token or ""):
                raise Invalid("Invalid token", field="Token")
            store.delete_subscription(conn, sub_id)
            return True

    def _sub_info(self, row: Any) -> Subscription:
        prov = provider(row.protocol)
        return Subscription(
            id=row.id, arn=self.subscription_arn(row.topic_name, row.id), topic_arn=self.topic_arn(row.topic_name),
            protocol=row.protocol, endpoint=prov.redact(row.endpoint), status=row.status,
            attributes=_json(row.attributes), created_at=store.utc(row.created_at),
            confirmed_at=store.utc(row.confirmed_at),
        )

    def list_subscriptions(self, topic_arn: str | None = None,
                           next_token: str | None = None) -> tuple[list[Subscription], str | None]:
        with self.engine.connect() as conn:
            topic_id = self._topic(conn, topic_arn).id if topic_arn else None
            rows = store.list_subscriptions(conn, topic_id, next_token or "", PAGE + 1)
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        return [self._sub_info(r) for r in rows], (rows[-1].id if more else None)

    def get_subscription(self, sub_arn: str) -> Subscription:
        with self.engine.connect() as conn:
            return self._sub_info(self._sub(conn, arns.subscription_id(sub_arn)))

    def signing_secret(self, sub_arn: str) -> str:
        with self.engine.connect() as conn:
            return self.rt.box.decrypt(self._sub(conn, arns.subscription_id(sub_arn)).secret_enc)

    def get_subscription_attributes(self, sub_arn: str) -> dict[str, str]:
        s = self.get_subscription(sub_arn)
        out = {
            "SubscriptionArn": s.arn,
            "TopicArn": s.topic_arn,
            "Owner": self.account,
            "Protocol": s.protocol,
            "Endpoint": s.endpoint,
            "PendingConfirmation": "true" if s.status == "pending" else "false",
            "ConfirmationWasAuthenticated": "true" if s.status == "confirmed" else "false",
            "RawMessageDelivery": "false",
        }
        out.update({k: str(v) for k, v in s.attributes.items()})
        if "FilterPolicy" in out:
            out.setdefault("FilterPolicyScope", "MessageAttributes")
        return out

    def set_subscription_attributes(self, sub_arn: str, name: str, value: str | None) -> None:
        sub_id = arns.subscription_id(sub_arn)
        with self.engine.begin() as conn:
            row = self._sub(conn, sub_id)
            attrs = _json(row.attributes)
            merged = {**attrs, name: value or ""}
            if not merged.get("FilterPolicy"):
                merged.pop("FilterPolicy", None)
            checked = self._check_sub_attributes(row.protocol, merged)
            if checked.pop(SKIP_CONFIRMATION, "false") == "true" and row.status != "confirmed":
                store.update_subscription(conn, sub_id, status="confirmed", confirmed_at=_now())
            store.update_subscription(conn, sub_id, attributes=json.dumps(checked))

    # Publishing -------------------------------------------------------------------------------------

    def publish(self, topic_arn: str, message: str, subject: str | None = None,
                attributes: dict[str, dict[str, Any]] | None = None,
                message_structure: str | None = None) -> Enqueued:
        with self.engine.begin() as conn:
            result = self.enqueue(conn, topic_arn, message, subject=subject, attributes=attributes,
                                  message_structure=message_structure)
        self._wake()
        return result

    def publish_batch(self, topic_arn: str, entries: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
        if not entries:
            raise Invalid("The batch request doesn't contain any entries", aws_code="EmptyBatchRequest")
        if len(entries) > MAX_BATCH:
            raise Invalid(f"The batch request contains more entries than permissible ({MAX_BATCH})",
                          aws_code="TooManyEntriesInBatchRequest")
        ids = [e.get("Id") for e in entries]
        if len(set(ids)) != len(ids):
            raise Invalid("Two or more batch entries in the request have the same Id",
                          aws_code="BatchEntryIdsNotDistinct")
        ok: list[dict] = []
        failed: list[dict] = []
        with self.engine.begin() as conn:
            self._topic(conn, topic_arn)
            for e in entries:
                try:
                    r = self.enqueue(conn, topic_arn, e.get("Message", ""), subject=e.get("Subject"),
                                     attributes=e.get("MessageAttributes"),
                                     message_structure=e.get("MessageStructure"))
                    ok.append({"Id": e["Id"], "MessageId": r.message_id})
                except Invalid as err:
                    failed.append({"Id": e["Id"], "Code": err.aws_code or "InvalidParameter",
                                   "Message": err.message, "SenderFault": True})
        self._wake()
        return ok, failed

    def enqueue(self, conn: Connection, topic_arn: str, message: str | dict[str, Any], *,
                subject: str | None = None, attributes: dict[str, dict[str, Any]] | None = None,
                message_structure: str | None = None, message_id: str | None = None,
                missing_ok: bool = False) -> Enqueued:
        """Write one message's deliveries into the outbox inside the caller's transaction.

        ``conn`` is the caller's open SQLAlchemy Connection (``with engine.begin() as conn``); nothing
        is sent until the caller commits, and a rollback drops the deliveries with the caller's own
        writes. ``message`` may be a dict (an alarm payload): it is sent as its JSON text. Returns
        the MessageId (stable across retries) and the number of deliveries written (confirmed
        subscriptions whose filter policy matches). Raises NotFound for an unknown topic unless
        ``missing_ok``, then returns ``Enqueued("", 0)``.
        """
        if isinstance(message, dict):
            message = json.dumps(message, separators=(",", ":"), default=str)
        self._check_message(message, subject, attributes)
        per_protocol: dict[str, str] | None = None
        if message_structure:
            if message_structure != "json":
                raise Invalid("Invalid parameter: MessageStructure: only 'json' is supported",
                              field="MessageStructure")
            try:
                per_protocol = json.loads(message)
            except ValueError:
                per_protocol = None
            if not isinstance(per_protocol, dict) or not isinstance(per_protocol.get("default"), str):
                raise Invalid("Invalid parameter: Message Structure - No default entry in JSON message body",
                              field="Message")
        try:
            topic = self._topic(conn, topic_arn)
        except NotFound:
            if missing_ok:
                return Enqueued("", 0)
            raise
        message_id = message_id or str(uuid.uuid4())
        targets = []
        for sub in store.confirmed_subscriptions(conn, topic.id):
            sattrs = _json(sub.attributes)
            body = message
            if per_protocol is not None:
                body = per_protocol.get(sub.protocol, per_protocol["default"])
            if sattrs.get("FilterPolicy"):
                policy = filterpolicy.parse(sattrs["FilterPolicy"], sattrs.get("FilterPolicyScope",
                                                                                "MessageAttributes"))
                scope = sattrs.get("FilterPolicyScope", "MessageAttributes")
                if not filterpolicy.matches(policy, scope, body, attributes or {}):
                    continue
            targets.append((sub.id, sub.protocol, body))
        now = _now()
        by_body: dict[str, list[tuple[str, str]]] = {}
        for sid, proto, body in targets:
            by_body.setdefault(body, []).append((sid, proto))
        for body, subs in by_body.items():
            self._enqueue_rows(conn, self.topic_arn(topic.name), message_id, "Notification", subs, body, subject,
                               attributes or {}, now)
        return Enqueued(message_id, len(targets))

    def _check_message(self, message: str, subject: str | None, attributes: dict | None) -> None:
        if message is None or message == "":
            raise Invalid("Invalid parameter: Empty message", field="Message")
        if len(message.encode()) > MAX_MESSAGE_BYTES:
            raise Invalid("Invalid parameter: Message too long (at most 262144 bytes)", field="Message")
        if subject is not None and (
            not subject or len(subject) > 100 or "\n" in subject or not subject.isascii()
        ):
            raise Invalid("Invalid parameter: Subject: 1-100 ASCII characters without line breaks",
                          field="Subject")
        for name, attr in (attributes or {}).items():
            dtype = (attr or {}).get("DataType")
            if not dtype or dtype.split(".")[0] not in ("String", "Number", "Binary"):
                raise Invalid(f"Invalid parameter: MessageAttributes: {name}: DataType must be String, "
                              f"Number or Binary", field="MessageAttributes")
            if dtype.startswith("Number"):
                try:
                    float(attr.get("StringValue", ""))
                except ValueError:
                    raise Invalid(f"Invalid parameter: MessageAttributes: {name}: not a number",
                                  field="MessageAttributes")
            if isinstance(attr.get("BinaryValue"), bytes):
                import base64

                attr["BinaryValue"] = base64.b64encode(attr["BinaryValue"]).decode()

    def _enqueue_rows(self, conn: Connection, topic_arn: str, message_id: str, kind: str,
                      subs: list[tuple[str, str]], message: str, subject: str | None,
                      attributes: dict[str, Any], now: dt.datetime) -> None:
        attrs = json.dumps(attributes)
        store.insert_outbox(conn, [
            {"message_id": message_id, "subscription_id": sid, "topic_arn": topic_arn, "kind": kind,
             "protocol": proto, "subject": subject, "message": message, "attributes": attrs,
             "published_at": now, "status": "pending", "attempts": 0, "next_attempt_at": now,
             "updated_at": now}
            for sid, proto in subs
        ])

    # Delivery log -----------------------------------------------------------------------------------

    def deliveries(self, *, status: str | None = None, topic_arn: str | None = None,
                   message_id: str | None = None, subscription_arn: str | None = None,
                   before_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        if status and status not in ("pending", "delivered", "dead"):
            raise Invalid("status must be pending, delivered or dead", field="status")
        limit = max(1, min(int(limit), 1000))
        name = arns.topic_name(topic_arn) if topic_arn else None
        sub_id = arns.subscription_id(subscription_arn) if subscription_arn else None
        with self.engine.connect() as conn:
            rows = store.deliveries(conn, status=status, topic_arn_name=name, message_id=message_id,
                                    subscription_id=sub_id, before_id=before_id, limit=limit)
        return [self._delivery(r) for r in rows]

    def _delivery(self, r: Any) -> dict[str, Any]:
        topic_name = r.topic_arn.rsplit(":", 1)[-1]
        try:
            endpoint = provider(r.protocol).redact(r.endpoint) if r.endpoint is not None else None
        except Invalid:
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
            "last_status": r.last_status,
            "published_at": store.utc(r.published_at),
            "next_attempt_at": store.utc(r.next_attempt_at) if r.status == "pending" else None,
            "delivered_at": store.utc(r.delivered_at),
        }

    def message_deliveries(self, message_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [self._delivery(r) for r in store.message_rows(conn, message_id)]

    def replay(self, ids: list[int] | None = None) -> int:
        """Put dead letters (all, or the given ids) back in the queue with fresh attempts."""
        with self.engine.begin() as conn:
            n = store.replay(conn, ids, _now())
        if n:
            self._wake()
        return n

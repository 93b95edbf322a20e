"""Publishing: messages into the outbox, inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy import Connection

from rexwatch.errors import DuplicateBatchIds, EmptyBatch, Invalid, NotFound, TooManyEntries
from rexwatch.services.notify import filterpolicy
from rexwatch.services.notify.base import (
    MAX_BATCH,
    MAX_MESSAGE_BYTES,
    Enqueued,
    ServiceBase,
    _json,
    _now,
)
from rexwatch.stores.control import notify_repo as store


class PublishingMixin(ServiceBase):
    def publish(
        self,
        topic_arn: str,
        message: str,
        subject: str | None = None,
        attributes: dict[str, dict[str, Any]] | None = None,
        message_structure: str | None = None,
    ) -> Enqueued:
        with self.engine.begin() as conn:
            result = self.enqueue(
                conn,
                topic_arn,
                message,
                subject=subject,
                attributes=attributes,
                message_structure=message_structure,
            )
        self.wake()
        return result

    def publish_batch(self, topic_arn: str, entries: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
        if not entries:
            raise EmptyBatch("The batch request doesn't contain any entries")
        if len(entries) > MAX_BATCH:
            raise TooManyEntries(
                f"The batch request contains more entries than permissible ({MAX_BATCH})",
            )
        ids = [e.get("Id") for e in entries]
        if len(set(ids)) != len(ids):
            raise DuplicateBatchIds(
                "Two or more batch entries in the request have the same Id",
            )
        ok: list[dict] = []
        failed: list[dict] = []
        with self.engine.begin() as conn:
            self._topic(conn, topic_arn)
            for e in entries:
                try:
                    r = self.enqueue(
                        conn,
                        topic_arn,
                        e.get("Message", ""),
                        subject=e.get("Subject"),
                        attributes=e.get("MessageAttributes"),
                        message_structure=e.get("MessageStructure"),
                    )
                    ok.append({"Id": e["Id"], "MessageId": r.message_id})
                except Invalid as err:
                    # The front door spells the error in its protocol.
                    failed.append({"Id": e["Id"], "Error": err})
        self.wake()
        return ok, failed

    def enqueue(
        self,
        conn: Connection,
        topic_arn: str,
        message: str | dict[str, Any],
        *,
        subject: str | None = None,
        attributes: dict[str, dict[str, Any]] | None = None,
        message_structure: str | None = None,
        message_id: str | None = None,
        missing_ok: bool = False,
    ) -> Enqueued:
        """Write one message's deliveries into the outbox inside the caller's transaction.

        ``conn`` is the caller's open SQLAlchemy Connection (``with engine.begin() as conn``); nothing
        is sent until the caller commits, and a rollback drops the deliveries with the caller's own
        writes. ``message`` may be a dict (an alarm payload): it is sent as its JSON text. Returns
        the MessageId (stable across retries) and the number of deliveries written (confirmed
        subscriptions whose filter policy matches). Raises NotFound for an unknown topic unless
        ``missing_ok``, then returns ``Enqueued("", 0)``.
        """
        if isinstance(message, dict):
            if subject is None and "AlarmName" in message and "NewStateValue" in message:
                from rexwatch.services.notify.messages import alarm_subject

                subject = alarm_subject(message, self.region)  # what CloudWatch puts in Subject
            message = json.dumps(message, separators=(",", ":"), default=str)
        self._check_message(message, subject, attributes)
        per_protocol: dict[str, str] | None = None
        if message_structure:
            if message_structure != "json":
                raise Invalid(
                    "Invalid parameter: MessageStructure: only 'json' is supported", field="MessageStructure"
                )
            try:
                per_protocol = json.loads(message)
            except ValueError:
                per_protocol = None
            if not isinstance(per_protocol, dict) or not isinstance(per_protocol.get("default"), str):
                raise Invalid(
                    "Invalid parameter: Message Structure - No default entry in JSON message body",
                    field="Message",
                )
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
                policy = filterpolicy.parse(
                    sattrs["FilterPolicy"], sattrs.get("FilterPolicyScope", "MessageAttributes")
                )
                scope = sattrs.get("FilterPolicyScope", "MessageAttributes")
                if not filterpolicy.matches(policy, scope, body, attributes or {}):
                    continue
            targets.append((sub.id, sub.protocol, body))
        now = _now()
        by_body: dict[str, list[tuple[str, str]]] = {}
        for sid, proto, body in targets:
            by_body.setdefault(body, []).append((sid, proto))
        for body, subs in by_body.items():
            self._enqueue_rows(
                conn,
                self.topic_arn(topic.name),
                message_id,
                "Notification",
                subs,
                body,
                subject,
                attributes or {},
                now,
            )
        return Enqueued(message_id, len(targets))

    def _check_message(self, message: str, subject: str | None, attributes: dict | None) -> None:
        if message is None or message == "":
            raise Invalid("Invalid parameter: Empty message", field="Message")
        if len(message.encode()) > MAX_MESSAGE_BYTES:
            raise Invalid("Invalid parameter: Message too long (at most 262144 bytes)", field="Message")
        if subject is not None and (
            not subject or len(subject) > 100 or "\n" in subject or not subject.isascii()
        ):
            raise Invalid(
                "Invalid parameter: Subject: 1-100 ASCII characters without line breaks", field="Subject"
            )
        for name, attr in (attributes or {}).items():
            dtype = (attr or {}).get("DataType")
            if not dtype or dtype.split(".")[0] not in ("String", "Number", "Binary"):
                raise Invalid(
                    f"Invalid parameter: MessageAttributes: {name}: DataType must be String, "
                    f"Number or Binary",
                    field="MessageAttributes",
                )
            if dtype.startswith("Number"):
                try:
                    float(attr.get("StringValue", ""))
                except ValueError:
                    raise Invalid(
                        f"Invalid parameter: MessageAttributes: {name}: not a number",
                        field="MessageAttributes",
                    )
            if isinstance(attr.get("BinaryValue"), bytes):
                import base64

                attr["BinaryValue"] = base64.b64encode(attr["BinaryValue"]).decode()

    def _enqueue_rows(
        self,
        conn: Connection,
        topic_arn: str,
        message_id: str,
        kind: str,
        subs: list[tuple[str, str]],
        message: str,
        subject: str | None,
        attributes: dict[str, Any],
        now: dt.datetime,
    ) -> None:
        attrs = json.dumps(attributes)
        store.insert_outbox(
            conn,
            [
                {
                    "message_id": message_id,
                    "subscription_id": sid,
                    "topic_arn": topic_arn,
                    "kind": kind,
                    "protocol": proto,
                    "subject": subject,
                    "message": message,
                    "attributes": attrs,
                    "published_at": now,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "updated_at": now,
                }
                for sid, proto in subs
            ],
        )

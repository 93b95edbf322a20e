"""Topics: create, list, delete, attributes and tags."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from rexwatch.errors import Invalid, TagLimitExceeded
from rexwatch.services.notify import arns
from rexwatch.services.notify.base import (
    PAGE,
    TOPIC_ATTRIBUTES,
    ServiceBase,
    _json,
    _now,
)
from rexwatch.stores.control import notify_repo as store


class TopicsMixin(ServiceBase):
    def create_topic(
        self, name: str, attributes: dict[str, str] | None = None, tags: list[dict[str, str]] | None = None
    ) -> str:
        arns.check_topic_name(name)
        attributes = dict(attributes or {})
        self._check_topic_attributes(attributes)
        try:
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
        except IntegrityError:
            pass  # created concurrently by another request: same name, same topic
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

    def tag_topic(self, arn: str, tags: list[dict[str, str]]) -> None:
        with self.engine.begin() as conn:
            row = self._topic(conn, arn, "ResourceArn")
            current = _json(row.tags)
            current.update({t["Key"]: t.get("Value", "") for t in tags})
            if len(current) > 50:
                raise TagLimitExceeded(
                    "Could not complete request: tag quota of per resource exceeded (50)",
                )
            store.update_topic(conn, row.id, tags=json.dumps(current))

    def untag_topic(self, arn: str, keys: list[str]) -> None:
        with self.engine.begin() as conn:
            row = self._topic(conn, arn, "ResourceArn")
            current = {k: v for k, v in _json(row.tags).items() if k not in set(keys)}
            store.update_topic(conn, row.id, tags=json.dumps(current))

    def topic_tags(self, arn: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            return _json(self._topic(conn, arn, "ResourceArn").tags)

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
                {
                    "http": {
                        "defaultHealthyRetryPolicy": {
                            "numRetries": 7,
                            "minDelayTarget": 2,
                            "maxDelayTarget": 600,
                            "backoffFunction": "exponential",
                        }
                    }
                }
            ),
        }
        out.update({k: v for k, v in attrs.items() if k not in out or k == "DisplayName"})
        return out

    def _default_policy(self, arn: str) -> dict[str, Any]:
        return {
            "Version": "2008-10-17",
            "Id": "__default_policy_ID",
            "Statement": [
                {
                    "Sid": "__default_statement_ID",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": ["SNS:Publish", "SNS:Subscribe"],
                    "Resource": arn,
                }
            ],
        }

    def _check_topic_attributes(self, attributes: dict[str, str]) -> None:
        for k, v in attributes.items():
            if k not in TOPIC_ATTRIBUTES:
                raise Invalid(
                    f"Invalid parameter: AttributeName: unknown topic attribute {k!r}", field="AttributeName"
                )
            if k == "FifoTopic" and v == "true":
                raise Invalid(
                    "Invalid parameter: FifoTopic: FIFO topics are not supported", field="FifoTopic"
                )
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

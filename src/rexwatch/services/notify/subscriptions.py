"""Subscriptions: subscribe, confirmation, unsubscribe, attributes."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import Connection

from rexwatch import netpolicy
from rexwatch.errors import ConfigError, Invalid, NotFound
from rexwatch.services.notify import arns, filterpolicy, signing
from rexwatch.services.notify.base import (
    PAGE,
    SKIP_CONFIRMATION,
    SUBSCRIPTION_ATTRIBUTES,
    ServiceBase,
    Subscription,
    _json,
    _now,
)
from rexwatch.services.notify.providers import provider
from rexwatch.stores.control import notify_repo as store


class SubscriptionsMixin(ServiceBase):
    def _endpoint_hash(self, protocol: str, endpoint: str) -> str:
        return self.rt.box.digest(f"{protocol}\0{endpoint}")

    def _shown_endpoint(self, prov: Any, stored: str) -> str:
        try:
            return prov.redact(self.rt.box.unseal(stored))
        except ConfigError:  # the secret key changed: the endpoint cannot be read
            return "****"

    def seal_stored_endpoints(self) -> int:
        """Seal endpoints stored in plain text by an older version; returns how many."""
        with self.engine.begin() as conn:
            rows = store.unsealed_endpoints(conn)
            for r in rows:
                plain = self.rt.box.unseal(r.endpoint)
                store.update_subscription(conn, r.id, endpoint=self.rt.box.seal(plain),
                                          endpoint_hash=self._endpoint_hash(r.protocol, plain))
        return len(rows)

    def _check_sub_attributes(self, protocol: str, attributes: dict[str, str]) -> dict[str, str]:
        out = {}
        for k, v in attributes.items():
            if k not in SUBSCRIPTION_ATTRIBUTES:
                raise Invalid(
                    f"Invalid parameter: Attributes: unknown subscription attribute {k!r}", field="Attributes"
                )
            out[k] = v
        scope = out.get("FilterPolicyScope", "MessageAttributes")
        if scope not in ("MessageAttributes", "MessageBody"):
            raise Invalid(
                "Invalid parameter: FilterPolicyScope: MessageAttributes or MessageBody",
                field="FilterPolicyScope",
            )
        if out.get("FilterPolicy"):
            filterpolicy.parse(out["FilterPolicy"], scope)
        for flag in ("RawMessageDelivery", SKIP_CONFIRMATION):
            if flag in out and out[flag] not in ("true", "false"):
                raise Invalid(f"Invalid parameter: {flag}: true or false", field=flag)
        if out.get("RawMessageDelivery") == "true" and protocol not in ("http", "https"):
            raise Invalid(
                "Invalid parameter: RawMessageDelivery applies to http and https only",
                field="RawMessageDelivery",
            )
        return out

    def subscribe(
        self,
        topic_arn: str,
        protocol: str,
        endpoint: str,
        attributes: dict[str, str] | None = None,
        return_arn: bool = False,
    ) -> str:
        if not protocol:
            raise Invalid("Invalid parameter: Protocol is required", field="Protocol")
        protocol = protocol.lower()
        prov = provider(protocol)
        attributes = self._check_sub_attributes(protocol, dict(attributes or {}))
        endpoint = prov.validate(protocol, endpoint or "", attributes)
        pol = netpolicy.policy(self.rt.settings)
        for field, url in prov.destinations(endpoint, attributes):
            netpolicy.check_url(pol, url, field)
        skip = attributes.pop(SKIP_CONFIRMATION, "false") == "true"
        needs = prov.needs_confirmation and not skip
        now = _now()
        with self.engine.begin() as conn:
            topic = self._topic(conn, topic_arn)
            existing = store.find_subscription(conn, topic.id, protocol, self._endpoint_hash(protocol, endpoint))
            if existing is not None:
                sub_id = existing.id
                if existing.status == "confirmed":
                    return self.subscription_arn(topic.name, sub_id)
                if not needs:  # an administrator subscribes again with SkipConfirmation=true
                    store.update_subscription(conn, sub_id, status="confirmed", confirmed_at=now)
                    return self.subscription_arn(topic.name, sub_id)
                # Subscribing again while pending sends the confirmation again, as SNS does.
            else:
                sub_id = str(uuid.uuid4())
                store.insert_subscription(
                    conn,
                    id=sub_id,
                    topic_id=topic.id,
                    protocol=protocol,
                    endpoint=self.rt.box.seal(endpoint),
                    endpoint_hash=self._endpoint_hash(protocol, endpoint),
                    status="pending" if needs else "confirmed",
                    token=signing.new_token(),
                    secret_enc=self.rt.box.encrypt(signing.new_secret()),
                    attributes=json.dumps(attributes),
                    created_at=now,
                    confirmed_at=None if needs else now,
                )
                if not needs:
                    return self.subscription_arn(topic.name, sub_id)
            self._enqueue_rows(
                conn,
                self.topic_arn(topic.name),
                str(uuid.uuid4()),
                "SubscriptionConfirmation",
                [(sub_id, protocol)],
                "",
                None,
                {},
                now,
            )
            arn = self.subscription_arn(topic.name, sub_id)
        self.wake()
        return arn if return_arn else "pending confirmation"

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
            id=row.id,
            arn=self.subscription_arn(row.topic_name, row.id),
            topic_arn=self.topic_arn(row.topic_name),
            protocol=row.protocol,
            endpoint=self._shown_endpoint(prov, row.endpoint),
            status=row.status,
            attributes=_json(row.attributes),
            created_at=row.created_at,
            confirmed_at=row.confirmed_at,
        )

    def list_subscriptions(
        self, topic_arn: str | None = None, next_token: str | None = None
    ) -> tuple[list[Subscription], str | None]:
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
            pol = netpolicy.policy(self.rt.settings)
            for field, url in provider(row.protocol).destinations(self.rt.box.unseal(row.endpoint), checked):
                netpolicy.check_url(pol, url, field)
            if checked.pop(SKIP_CONFIRMATION, "false") == "true" and row.status != "confirmed":
                store.update_subscription(conn, sub_id, status="confirmed", confirmed_at=_now())
            store.update_subscription(conn, sub_id, attributes=json.dumps(checked))

"""HTTP/HTTPS webhooks: the SNS JSON envelope, signed with the subscription's secret."""

from __future__ import annotations

import orjson

from rexwatch.services.notify import messages
from rexwatch.services.notify.providers.base import (
    Delivery,
    Outgoing,
    Provider,
    RetryPolicy,
    SendContext,
    check_http_url,
    post,
)
from rexwatch.services.notify.signing import SIGNATURE_HEADER, sign


class WebhookProvider(Provider):
    protocols = ("https", "http")
    needs_confirmation = True
    # SNS's default HTTP policy retries for about an hour; this is similar in spirit.
    retry = RetryPolicy(max_attempts=8, base_s=2.0, cap_s=600.0)

    def validate(self, protocol: str, endpoint: str, attributes: dict[str, str]) -> str:
        url = check_http_url(endpoint)
        from rexwatch.errors import Invalid

        if not url.lower().startswith(f"{protocol}://"):
            raise Invalid(f"Invalid parameter: Endpoint must match the protocol {protocol}", field="Endpoint")
        return url

    @classmethod
    def receiver_endpoint(cls, url: str) -> tuple[str, str, dict[str, str]]:
        return "http", url, {}

    async def send(self, msg: Outgoing, ctx: SendContext) -> Delivery:
        raw = msg.kind == "Notification" and msg.sub_attributes.get("RawMessageDelivery") == "true"
        body = msg.message.encode() if raw else orjson.dumps(messages.envelope(msg))
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": msg.kind,
            "x-amz-sns-message-id": msg.message_id,
            "x-amz-sns-topic-arn": msg.topic_arn,
            "x-amz-sns-subscription-arn": msg.subscription_arn,
            "User-Agent": "rexwatch-notify",
            SIGNATURE_HEADER: sign(msg.secret, body),
        }
        if raw:
            headers["x-amz-sns-rawdelivery"] = "true"
        return await post(ctx, msg.endpoint, content=body, headers=headers, secrets=self.secrets(msg))

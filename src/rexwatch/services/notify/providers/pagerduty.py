"""PagerDuty Events API v2: ALARM triggers an incident, OK resolves it (dedup key = alarm ARN).

The subscription endpoint is the integration's routing key; the attribute
``EventsUrl`` overrides the API address (default PagerDuty's).
"""

from __future__ import annotations

import re
from typing import Any

from rexwatch.errors import Invalid
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

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_KEY = re.compile(r"^[A-Za-z0-9]{20,64}$")
_SEVERITY = {"ALARM": "critical", "INSUFFICIENT_DATA": "warning"}


class PagerDutyProvider(Provider):
    protocols = ("pagerduty",)
    retry = RetryPolicy(max_attempts=8, base_s=2.0, cap_s=300.0)

    def validate(self, protocol: str, endpoint: str, attributes: dict[str, str]) -> str:
        key = endpoint.strip()
        if not _KEY.match(key):
            raise Invalid("Invalid parameter: Endpoint: a PagerDuty routing key is 20-64 letters and digits",
                          field="Endpoint")
        if attributes.get("EventsUrl"):
            check_http_url(attributes["EventsUrl"], "EventsUrl")
        return key

    def destinations(self, endpoint: str, attributes: dict[str, str]) -> list[tuple[str, str]]:
        return [("EventsUrl", attributes["EventsUrl"])] if attributes.get("EventsUrl") else []

    def redact(self, endpoint: str) -> str:
        return endpoint[:4] + "****" if len(endpoint) > 8 else "****"

    @classmethod
    def receiver_endpoint(cls, url: str) -> tuple[str, str, dict[str, str]]:
        return "pagerduty", "R0UT1NGKEY0123456789abcdef", {"EventsUrl": url}

    def payload(self, msg: Outgoing) -> dict[str, Any]:
        a = msg.alarm
        if a:
            state = str(a.get("NewStateValue"))
            action = "resolve" if state == "OK" else "trigger"
            dedup = str(a.get("AlarmArn") or a.get("AlarmName"))
            severity = _SEVERITY.get(state, "info")
            details: dict[str, Any] = dict(messages.alarm_rows(a, msg.region))
            source = str(a.get("AlarmArn") or msg.topic_arn)
        else:
            action, dedup, severity, source = "trigger", msg.message_id, "info", msg.topic_arn
            details = {"Message": msg.message}
        body: dict[str, Any] = {
            "routing_key": msg.endpoint,
            "event_action": action,
            "dedup_key": dedup,
        }
        if action == "trigger":
            body["payload"] = {
                "summary": messages.title_for(msg)[:1024],
                "source": source[:255],
                "severity": severity,
                "timestamp": messages.iso(msg.published_at),
                "custom_details": details,
            }
            if a:
                body["links"] = [{"href": messages.alarm_url(msg.base_url, a), "text": "View alarm"}]
        return body

    async def send(self, msg: Outgoing, ctx: SendContext) -> Delivery:
        url = msg.sub_attributes.get("EventsUrl") or EVENTS_URL
        return await post(ctx, url, json=self.payload(msg), secrets=self.secrets(msg))

"""Delivery providers, one module each, registered in ONE table.

``PROVIDERS`` maps a subscription protocol to the dotted path of its provider
class. Adding a receiver is one module plus one line here.
"""

from __future__ import annotations

import functools
import importlib

from rexwatch.errors import Invalid
from rexwatch.services.notify.providers.base import Delivery, Outgoing, Provider, RetryPolicy, SendContext

PROVIDERS: dict[str, str] = {
    "email": "rexwatch.services.notify.providers.email.EmailProvider",
    "email-json": "rexwatch.services.notify.providers.email.EmailProvider",
    "http": "rexwatch.services.notify.providers.webhook.WebhookProvider",
    "https": "rexwatch.services.notify.providers.webhook.WebhookProvider",
    "slack": "rexwatch.services.notify.providers.slack.SlackProvider",
    "pagerduty": "rexwatch.services.notify.providers.pagerduty.PagerDutyProvider",
    "discord": "rexwatch.services.notify.providers.discord.DiscordProvider",
    "msteams": "rexwatch.services.notify.providers.msteams.TeamsProvider",
}


@functools.cache
def provider(protocol: str) -> Provider:
    path = PROVIDERS.get(protocol)
    if path is None:
        raise Invalid(
            f"Invalid parameter: Protocol: {protocol!r} is not supported; use one of {', '.join(PROVIDERS)}",
            field="Protocol",
        )
    module, _, cls = path.rpartition(".")
    return getattr(importlib.import_module(module), cls)()


__all__ = ["PROVIDERS", "Delivery", "Outgoing", "Provider", "RetryPolicy", "SendContext", "provider"]

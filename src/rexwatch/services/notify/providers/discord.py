"""Discord webhooks: one embed coloured by alarm state."""

from __future__ import annotations

from typing import Any

from rexwatch.services.notify import messages
from rexwatch.services.notify.providers.base import ChatWebhookProvider, Outgoing


class DiscordProvider(ChatWebhookProvider):
    protocols = ("discord",)

    def payload(self, msg: Outgoing) -> dict[str, Any]:
        embed: dict[str, Any] = {
            "title": messages.title_for(msg)[:256],
            "description": messages.chat_text(msg)[:4000],
            "color": int(messages.colour_for(msg).lstrip("#"), 16),
            "footer": {"text": f"{msg.topic_arn} · {msg.message_id}"[:2048]},
            "fields": [{"name": k, "value": v[:1024], "inline": False} for k, v in messages.chat_fields(msg)],
        }
        if msg.alarm:
            embed["url"] = messages.alarm_url(msg.base_url, msg.alarm)
        return {"username": "rexwatch", "embeds": [embed]}

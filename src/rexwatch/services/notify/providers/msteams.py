"""Microsoft Teams incoming webhooks (Workflows): an Adaptive Card with the alarm's state colour."""

from __future__ import annotations

from typing import Any

from rexwatch.services.notify import messages
from rexwatch.services.notify.providers.base import ChatWebhookProvider, Outgoing

# Adaptive Cards name colours instead of taking hex values.
_STYLE = {"ALARM": "attention", "OK": "good", "INSUFFICIENT_DATA": "warning"}


class TeamsProvider(ChatWebhookProvider):
    protocols = ("msteams",)

    def payload(self, msg: Outgoing) -> dict[str, Any]:
        state = str(msg.alarm.get("NewStateValue")) if msg.alarm else ""
        body: list[dict[str, Any]] = [
            {"type": "TextBlock", "text": messages.title_for(msg), "weight": "Bolder", "size": "Medium",
             "wrap": True, "color": _STYLE.get(state, "default")},
            {"type": "TextBlock", "text": messages.chat_text(msg)[:4000], "wrap": True},
        ]
        fields = messages.chat_fields(msg)
        if fields:
            body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in fields]})
        card: dict[str, Any] = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": body,
        }
        if msg.alarm:
            card["actions"] = [{"type": "Action.OpenUrl", "title": "View alarm",
                                "url": messages.alarm_url(msg.base_url, msg.alarm)}]
        return {"type": "message", "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}

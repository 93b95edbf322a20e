"""Slack incoming webhooks: Block Kit inside an attachment coloured by alarm state."""

from __future__ import annotations

from typing import Any

from rexwatch.services.notify import messages
from rexwatch.services.notify.providers.base import ChatWebhookProvider, Outgoing


class SlackProvider(ChatWebhookProvider):
    protocols = ("slack",)

    def payload(self, msg: Outgoing) -> dict[str, Any]:
        title = messages.title_for(msg)
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": messages.chat_text(msg)[:2900] or " "}},
        ]
        fields = messages.chat_fields(msg)
        if fields:
            blocks.append(
                {"type": "section",
                 "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"[:2000]} for k, v in fields[:10]]}
            )
        if msg.alarm:
            blocks.append(
                {"type": "actions", "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "View alarm"},
                     "url": messages.alarm_url(msg.base_url, msg.alarm)}]}
            )
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"{msg.topic_arn} · {msg.message_id}"}]})
        return {
            "text": title,
            "attachments": [{"color": messages.colour_for(msg), "blocks": blocks}],
        }

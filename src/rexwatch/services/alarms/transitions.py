"""State transitions and the actions they cause, written in the caller's transaction.

A transition updates the alarm row, adds its StateUpdate and Action history
items and queues its notifications in the notify outbox, all on the same
connection: the caller commits them together or not at all, so a crash neither
loses nor repeats a notification (the outbox delivers with a stable MessageId).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from rexwatch.errors import NotFound
from rexwatch.lang.alarmrule import alarm_name_of
from rexwatch.services.alarms.history import History, Writes, utc
from rexwatch.services.alarms.log_definitions import is_block_action
from rexwatch.services.alarms.message import alarm_message, subject
from rexwatch.services.alarms.model import Alarm
from rexwatch.stores.control.alarms_repo import AlarmsRepo

if TYPE_CHECKING:
    from rexwatch.services.alarms.service import Context


class Transitions:
    def __init__(self, ctx: Context, repo: AlarmsRepo, history: History) -> None:
        self.ctx = ctx
        self.repo = repo
        self.history = history

    def flush(self, conn: Connection, writes: Writes) -> None:
        """Write what ``apply(..., writes=...)`` collected: one executemany per table."""
        self.repo.set_fields_many(conn, writes.updates)
        writes.updates = []
        self.history.flush(conn, writes)

    def apply(
        self,
        conn: Connection,
        a: Alarm,
        new: str,
        reason: str,
        reason_data: str | None,
        now: float,
        mutes: dict[str, list[str]],
        *,
        override: bool = False,
        triggering: list[dict] | None = None,
        writes: Writes | None = None,
        extra: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        """Write a state change, its history and its notifications. Returns notifications queued.

        With ``writes`` the row update and history rows are collected for ``flush``.
        """
        old = a.state_value
        changed = old != new
        values: dict[str, Any] = {
            "state_value": new,
            "state_reason": reason,
            "state_reason_data": reason_data,
            "state_updated_at": utc(now),
            "state_override": override,
            "state_transitioned_at": utc(now) if changed else a.state_transitioned_at,
            "acked_at": a.acked_at,
            "acked_by": a.acked_by,
            "ack_reason": a.ack_reason,
            "alarm_notified": a.alarm_notified,
            "held_by_mute": a.held_by_mute,
            "next_renotify_at": None,
            "evaluation_error": None,
            **(extra or {}),
        }
        if changed and old == "ALARM":
            values.update(acked_at=None, acked_by=None, ack_reason=None, next_renotify_at=None)
        history_new: dict[str, Any] = {"stateValue": new, "stateReason": reason}
        if reason_data:
            try:
                history_new["stateReasonData"] = json.loads(reason_data)
            except ValueError:
                pass
        self.history.record(
            conn,
            a.name,
            a.alarm_type,
            now,
            "StateUpdate",
            f"Alarm updated from {old} to {new}",
            {
                "version": "1.0",
                "oldState": {"stateValue": old, "stateReason": a.state_reason},
                "newState": history_new,
            },
            writes,
        )
        sent = 0
        if changed:
            sent, outcome = self.run_actions(
                conn, a, old, new, reason, now, mutes, triggering, writes=writes, details=details
            )
            notified = outcome == "sent"
            if new == "ALARM":
                values["alarm_notified"] = notified
                values["held_by_mute"] = outcome == "muted"
                if a.renotify_interval and notified:
                    values["next_renotify_at"] = now + a.renotify_interval
            elif old == "ALARM":
                values["alarm_notified"] = False
                values["held_by_mute"] = False
        if writes is not None:
            writes.updates.append({"id": a.id, **values})
        else:
            self.repo.set_fields(conn, a.id, **values)
        a.state_value, a.state_reason, a.state_reason_data = new, reason, reason_data
        return sent

    def run_actions(
        self,
        conn: Connection,
        a: Alarm,
        old: str,
        new: str,
        reason: str,
        now: float,
        mutes: dict[str, list[str]],
        triggering: list[dict] | None,
        *,
        renotify: bool = False,
        held: bool = False,
        writes: Writes | None = None,
        details: dict[str, Any] | None = None,
        dedup_extra: str = "",
    ) -> tuple[int, str]:
        """Queue the actions of ``new``; returns (queued, outcome): outcome is "sent", "muted"
        (held back by a mute rule or an ActionsSuppressor) or "none" (no actions, or disabled).

        ``details`` adds a log alarm's keys and offending rows to the message; ``dedup_extra``
        tells apart notifications of one alarm at one instant (several keys firing). Block
        actions (``block-ip:``) are a log alarm's own business, not notifications.
        """
        actions = [x for x in a.actions_for(new) if not is_block_action(x)]
        if not actions or not a.actions_enabled:
            return 0, "none"
        muted_by = list(mutes.get(a.name, []))
        suppressor = a.config.get("actions_suppressor") if a.kind == "composite" else None
        if suppressor:
            state = self.repo.states(conn, [alarm_name_of(suppressor)]).get(alarm_name_of(suppressor))
            if state is not None and state[0] == "ALARM":
                # A composite's ActionsSuppressor in ALARM holds back its actions (wait and
                # extension periods are not modelled: suppression follows the suppressor's state).
                muted_by.append(f"ActionsSuppressor {alarm_name_of(suppressor)}")
        stamp = int(now * 1000)
        # The OK that ends an ALARM whose notification went out is sent even while muted.
        if muted_by and not (new == "OK" and old == "ALARM" and a.alarm_notified):
            for arn in actions:
                self.history.record(
                    conn,
                    a.name,
                    a.alarm_type,
                    now,
                    "Action",
                    f"Suppressed action {arn}: muted by {', '.join(muted_by)}",
                    {
                        "actionState": "Suppressed",
                        "notificationResource": arn,
                        "stateUpdateTimestamp": stamp,
                        "mutedBy": muted_by,
                    },
                    writes,
                )
            return 0, "muted"
        message = alarm_message(
            alarm=a,
            account_id=self.ctx.account,
            region=self.ctx.region,
            old_state=old,
            new_state=new,
            reason=reason,
            change_time=now,
            triggering_children=triggering,
            details=details,
        )
        subj = subject(new, a.name, self.ctx.region)
        queued = 0
        for arn in actions:
            dedup = (
                f"{a.arn}|{new}|{stamp}|{arn}"
                + ("|renotify" if renotify else "")
                + ("|held" if held else "")
                + (f"|{dedup_extra}" if dedup_extra else "")
            )
            try:
                self.ctx.notifier.enqueue(conn, arn, subj, message, dedup)
            except NotFound as e:
                self.history.record(
                    conn,
                    a.name,
                    a.alarm_type,
                    now,
                    "Action",
                    f'Failed to execute action {arn}. Received error: "{e.message}"',
                    {
                        "actionState": "Failed",
                        "notificationResource": arn,
                        "stateUpdateTimestamp": stamp,
                        "error": e.message,
                    },
                    writes,
                )
                continue
            queued += 1
            self.history.record(
                conn,
                a.name,
                a.alarm_type,
                now,
                "Action",
                f"Successfully executed action {arn}"
                + (" (re-notification)" if renotify else "")
                + (" (held by a mute rule until it ended)" if held else ""),
                {
                    "actionState": "Succeeded",
                    "notificationResource": arn,
                    "stateUpdateTimestamp": stamp,
                    "publishedMessage": message,
                },
                writes,
            )
        return queued, "sent"

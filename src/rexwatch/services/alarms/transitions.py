"""State transitions and the actions (notifications) they cause, written in one transaction."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select, update

from rexwatch.errors import NotFound
from rexwatch.lang.alarmrule import alarm_name_of
from rexwatch.services.alarms.common import (
    _Batch,
    _ts,
)
from rexwatch.services.alarms.message import alarm_message, subject
from rexwatch.services.alarms.model import (
    Alarm,
)
from rexwatch.stores.control.tables.alarms import alarms


class TransitionsMixin:
    """Part of ``AlarmsService``; see ``service.py``."""

    # ------------------------------------------------------------ transitions and actions

    def _transition(
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
        batch: _Batch | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Write a state change, its history and its notifications. Returns notifications queued.

        With ``batch`` the row update and history rows are collected for one executemany each.
        """
        old = a.state_value
        changed = old != new
        values: dict[str, Any] = {
            "state_value": new,
            "state_reason": reason,
            "state_reason_data": reason_data,
            "state_updated_at": _ts(now),
            "state_override": override,
            "state_transitioned_at": _ts(now) if changed else a.state_transitioned_at,
            "acked_at": a.acked_at,
            "acked_by": a.acked_by,
            "ack_reason": a.ack_reason,
            "alarm_notified": a.alarm_notified,
            "held_by_mute": a.held_by_mute,
            "next_renotify_at": None,
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
        self._history(
            conn,
            a.name,
            a.kind,
            now,
            "StateUpdate",
            f"Alarm updated from {old} to {new}",
            {
                "version": "1.0",
                "oldState": {"stateValue": old, "stateReason": a.state_reason},
                "newState": history_new,
            },
            batch,
        )
        sent = 0
        if changed:
            sent, outcome = self._run_actions(conn, a, old, new, reason, now, mutes, triggering, batch=batch)
            notified = outcome == "sent"
            if new == "ALARM":
                values["alarm_notified"] = notified
                values["held_by_mute"] = outcome == "muted"
                if a.renotify_interval and notified:
                    values["next_renotify_at"] = now + a.renotify_interval
            elif old == "ALARM":
                values["alarm_notified"] = False
                values["held_by_mute"] = False
        if batch is not None:
            batch.updates.append({"_id": a.id, **{f"_{k}": v for k, v in values.items()}})
        else:
            conn.execute(update(alarms).where(alarms.c.id == a.id).values(**values))
        a.state_value, a.state_reason, a.state_reason_data = new, reason, reason_data
        return sent

    def _run_actions(
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
        batch: _Batch | None = None,
    ) -> tuple[int, str]:
        """Queue the actions of ``new``; returns (queued, outcome): outcome is "sent", "muted"
        (held back by a mute rule or an ActionsSuppressor) or "none" (no actions, or disabled)."""
        actions = a.actions_for(new)
        if not actions:
            return 0, "none"
        if not a.actions_enabled:
            return 0, "none"
        muted_by = list(mutes.get(a.name, []))
        suppressor = a.config.get("actions_suppressor") if a.kind == "composite" else None
        if suppressor:
            row = conn.execute(
                select(alarms.c.state_value).where(alarms.c.name == alarm_name_of(suppressor))
            ).first()
            if row is not None and row.state_value == "ALARM":
                # A composite's ActionsSuppressor in ALARM holds back its actions (wait and
                # extension periods are not modelled: suppression follows the suppressor's state).
                muted_by.append(f"ActionsSuppressor {alarm_name_of(suppressor)}")
        # The OK that ends an ALARM whose notification went out is sent even while muted.
        if muted_by and not (new == "OK" and old == "ALARM" and a.alarm_notified):
            for arn in actions:
                self._history(
                    conn,
                    a.name,
                    a.kind,
                    now,
                    "Action",
                    f"Suppressed action {arn}: muted by {', '.join(muted_by)}",
                    {
                        "actionState": "Suppressed",
                        "notificationResource": arn,
                        "stateUpdateTimestamp": int(now * 1000),
                        "mutedBy": muted_by,
                    },
                    batch,
                )
            return 0, "muted"
        message = alarm_message(
            alarm=a,
            account_id=self.account,
            region=self.region,
            old_state=old,
            new_state=new,
            reason=reason,
            change_time=now,
            triggering_children=triggering,
        )
        subj = subject(new, a.name, self.region)
        queued = 0
        for arn in actions:
            dedup = (
                f"{a.arn}|{new}|{int(now * 1000)}|{arn}"
                + ("|renotify" if renotify else "")
                + ("|held" if held else "")
            )
            try:
                self.notifier.enqueue(conn, arn, subj, message, dedup)
            except NotFound as e:
                self._history(
                    conn,
                    a.name,
                    a.kind,
                    now,
                    "Action",
                    f'Failed to execute action {arn}. Received error: "{e.message}"',
                    {
                        "actionState": "Failed",
                        "notificationResource": arn,
                        "stateUpdateTimestamp": int(now * 1000),
                        "error": e.message,
                    },
                    batch,
                )
                continue
            queued += 1
            self._history(
                conn,
                a.name,
                a.kind,
                now,
                "Action",
                f"Successfully executed action {arn}"
                + (" (re-notification)" if renotify else "")
                + (" (held by a mute rule until it ended)" if held else ""),
                {
                    "actionState": "Succeeded",
                    "notificationResource": arn,
                    "stateUpdateTimestamp": int(now * 1000),
                    "publishedMessage": message,
                },
                batch,
            )
        return queued, "sent"

"""Composite alarms follow their children: re-evaluated in the transaction that changes a child."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from rexwatch.errors import RexwatchError
from rexwatch.lang.alarmrule import alarm_name_of, compile_rule
from rexwatch.services.alarms.evaluate import iso_millis
from rexwatch.services.alarms.mute_rules import MuteRules
from rexwatch.services.alarms.transitions import Transitions
from rexwatch.stores.control.alarms_repo import AlarmsRepo

if TYPE_CHECKING:
    from rexwatch.services.alarms.service import Context

log = logging.getLogger("rexwatch.alarms")

# Composites of composites are followed this many levels deep in one transaction.
MAX_DEPTH = 10


class Composites:
    def __init__(self, ctx: Context, repo: AlarmsRepo, transitions: Transitions, mutes: MuteRules) -> None:
        self.ctx = ctx
        self.repo = repo
        self.transitions = transitions
        self.mutes = mutes

    def check_cycle(self, conn: Connection, name: str, children: list[str]) -> None:
        from rexwatch.errors import Invalid

        graph = self.repo.composite_children(conn)
        graph[name] = children
        stack, seen = list(children), set()
        steps = 0
        while stack and steps < 10000:
            steps += 1
            c = stack.pop()
            if c == name:
                raise Invalid(f"AlarmRule would make alarm {name} depend on itself", field="AlarmRule")
            if c not in seen:
                seen.add(c)
                stack.extend(graph.get(c, []))

    def evaluate(
        self,
        conn: Connection,
        now: float,
        *,
        changed: Sequence[str] = (),
        names: Sequence[str] = (),
        mutes: dict[str, list[str]] | None = None,
    ) -> int:
        """Re-evaluate composites whose children changed (transitively) or that are named.
        Returns the notifications queued."""
        comps = {c.name: c for c in self.repo.composites(conn)}
        if not comps:
            return 0
        mutes = self.mutes.muting(conn, now) if mutes is None else mutes
        pending = set(names)
        frontier = set(changed)
        sent = 0
        for _ in range(MAX_DEPTH):
            for c in comps.values():
                if frontier & set(c.config.get("children") or []):
                    pending.add(c.name)
            if not pending:
                break
            frontier = set()
            states = self.repo.states(
                conn, {ch for n in pending for ch in comps[n].config.get("children") or []}
            )
            for n in sorted(pending):
                c = comps[n]
                try:
                    holds = compile_rule(c.config["alarm_rule"]).evaluate(
                        lambda ref, st=states: st[alarm_name_of(ref)][0] if alarm_name_of(ref) in st else None
                    )
                except RexwatchError as e:
                    # A stored rule this version cannot read must not stop the other composites.
                    log.warning("alarm %r: composite rule failed: %s", n, e.message)
                    continue
                new = "ALARM" if holds else "OK"
                if new == c.state_value:
                    continue
                triggering = [
                    {
                        "Arn": self.ctx.arn(ch),
                        "State": {"Value": states[ch][0], "Timestamp": iso_millis(states[ch][1].timestamp())},
                    }
                    for ch in c.config.get("children") or []
                    if ch in states
                ]
                if triggering:
                    first = triggering[0]
                    when = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%A %d %B, %Y %H:%M:%S UTC")
                    reason = f"{first['Arn']} transitioned to {first['State']['Value']} at {when}"
                else:
                    reason = f"AlarmRule evaluated to {'TRUE' if holds else 'FALSE'}"
                data = json.dumps(
                    {
                        "triggeringAlarms": [
                            {
                                "arn": t["Arn"],
                                "state": {"value": t["State"]["Value"], "timestamp": t["State"]["Timestamp"]},
                            }
                            for t in triggering
                        ]
                    },
                    separators=(",", ":"),
                )
                sent += self.transitions.apply(conn, c, new, reason, data, now, mutes, triggering=triggering)
                frontier.add(n)
            pending = set()
            if not frontier:
                break
        return sent

"""The evaluator tick (one batched statistics query for all due alarms) and backtests."""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from rexwatch.errors import Invalid, LimitExceeded, RexwatchError
from rexwatch.lang.alarmrule import alarm_name_of, compile_rule
from rexwatch.services.alarms import evaluator as ev
from rexwatch.services.alarms.common import (
    MAX_COMPOSITE_DEPTH,
    _Batch,
    _Due,
    log,
)
from rexwatch.services.alarms.model import (
    Alarm,
    BacktestTransition,
    StatQuery,
    TickReport,
)
from rexwatch.stores.control.tables.alarms import alarms


class EvaluationMixin:
    """Part of ``AlarmsService``; see ``service.py``."""

    # ------------------------------------------------------------ evaluation (the worker's tick)

    def evaluate_due(self, now: float | None = None, *, limit: int | None = None) -> TickReport:
        """Evaluate every metric alarm due at ``now`` with one batched statistics query."""
        started = time.perf_counter()
        now = self.clock() if now is None else now
        report = TickReport()
        with self.engine.connect() as conn:
            # Only what evaluation needs: full rows are read for the alarms that change.
            q = (
                select(
                    alarms.c.id,
                    alarms.c.name,
                    alarms.c.namespace,
                    alarms.c.metric_name,
                    alarms.c.config,
                    alarms.c.state_value,
                    alarms.c.state_override,
                )
                .where(alarms.c.kind == "metric", alarms.c.next_eval_at <= now)
                .order_by(alarms.c.id)
            )
            if limit:
                q = q.limit(limit)
            due = [
                _Due(
                    r.id,
                    r.name,
                    r.namespace,
                    r.metric_name,
                    r.config or {},
                    r.state_value,
                    bool(r.state_override),
                )
                for r in conn.execute(q)
            ]
        if due:
            simple = [a for a in due if not a.config.get("math")]
            math_alarms = [a for a in due if a.config.get("math")]
            wanted = {a.id: self.stat_query(a) for a in simple}
            queries = list(dict.fromkeys(wanted.values()))
            cfgs = {a.id: self._eval_config(a) for a in due}
            start = min(ev.range_start(c, now) for c in cfgs.values())
            end = max(ev.window_end(c, now) for c in cfgs.values())
            series: dict[int, list[ev.Datapoint]] = {}
            self.failed = {}
            if queries:
                data = self._fetch(queries, start, end)
                for a in simple:
                    if wanted[a.id] in data:
                        series[a.id] = data[wanted[a.id]]
                    else:
                        self.failed[a.id] = "statistics unavailable"
                report.queries += 1
            if math_alarms:
                try:
                    series.update(self._fetch_math(math_alarms, start, end))
                except RexwatchError as e:
                    self.failed.update({a.id: e.message for a in math_alarms})
                from rexwatch.services.alarms.sources import _whole_request

                own = sum(1 for a in math_alarms if _whole_request(a.config["metrics"]))
                report.queries += own + (1 if own < len(math_alarms) else 0)
            decisions = []
            for a in due:
                if a.id in self.failed:
                    decisions.append((a, None))  # keep the state; evaluated again next minute
                    continue
                points = series.get(a.id, [])
                t = ev.evaluate(cfgs[a.id], ev.AlarmState(ev.StateValue(a.state_value)), points, now)
                decisions.append((a, t))
            report.evaluated = len(due)
            self._apply(decisions, now, report)
        self._renotify(now, report)
        self._wake()
        report.seconds = time.perf_counter() - started
        return report

    def _fetch(
        self, queries: list[StatQuery], start: float, end: float
    ) -> dict[StatQuery, list[ev.Datapoint]]:
        try:
            return self.stats.fetch(queries, start, end)
        except RexwatchError as e:
            if len(queries) == 1:
                raise
            first = e
        # A series the store refuses must not stop every alarm: retry in halves to isolate it.
        log.warning("alarms: statistics batch failed (%s); isolating the failing series", first.message)
        mid = len(queries) // 2
        out: dict[StatQuery, list[ev.Datapoint]] = {}
        for part in (queries[:mid], queries[mid:]):
            try:
                out.update(self._fetch(part, start, end))
            except RexwatchError as e:
                log.warning("alarms: no statistics for %s: %s", part[0], e.message)
        return out

    def _fetch_math(
        self, math_alarms: list[Alarm], start: float, end: float
    ) -> dict[int, list[ev.Datapoint]]:
        fetch_math = getattr(self.stats, "fetch_math", None)
        if fetch_math is None:
            raise Invalid("this statistics source cannot evaluate metric math alarms")
        try:
            return fetch_math([(a.id, a.config["metrics"]) for a in math_alarms], start, end)
        except RexwatchError:
            if len(math_alarms) == 1:
                raise
        # One expression failed the batch: isolate it so the others are still evaluated.
        out: dict[int, list[ev.Datapoint]] = {}
        for a in math_alarms:
            try:
                out.update(fetch_math([(a.id, a.config["metrics"])], start, end))
            except RexwatchError as e:
                log.warning("alarm %s: metric math failed: %s", a.name, e.message)
                self.failed[a.id] = e.message
        return out

    def _apply(
        self, decisions: list[tuple[Any, ev.Transition | None]], now: float, report: TickReport
    ) -> None:
        with self.engine.begin() as conn:
            mutes = self._muting_rules(conn, now)
            batch = _Batch()
            quiet: dict[float, list[int]] = {}
            moving = [(a, t) for a, t in decisions if t is not None]
            # Lock the rows that change and skip any whose state moved since they were read
            # (a concurrent SetAlarmState): that alarm is simply evaluated again next tick.
            current: dict[int, Alarm] = {}
            ids = [a.id for a, _ in moving]
            for i in range(0, len(ids), 500):
                q = select(alarms).where(alarms.c.id.in_(ids[i : i + 500]))
                if conn.dialect.name == "postgresql":
                    q = q.with_for_update()
                current.update({r.id: self._row_to_alarm(r) for r in conn.execute(q)})
            changed: list[str] = []
            for a, t in decisions:
                nxt = (math.floor(now / self._cadence(a)) + 1) * self._cadence(a)
                full = current.get(a.id)
                if t is None or full is None or full.state_value != a.state_value:
                    quiet.setdefault(nxt, []).append(a.id)
                    continue
                report.notifications += self._transition(
                    conn,
                    full,
                    t.new.value,
                    t.reason,
                    t.reason_data,
                    now,
                    mutes,
                    batch=batch,
                    extra={"next_eval_at": nxt, "last_eval_at": now},
                )
                report.transitions += 1
                changed.append(a.name)
            batch.flush(conn)
            overridden = [a.id for a, t in decisions if t is None and a.state_override]
            for nxt, qids in quiet.items():
                for i in range(0, len(qids), 500):
                    conn.execute(
                        update(alarms)
                        .where(alarms.c.id.in_(qids[i : i + 500]))
                        .values(next_eval_at=nxt, last_eval_at=now)
                    )
            for i in range(0, len(overridden), 500):
                # The evaluation confirmed the set state: it is no longer an override.
                conn.execute(
                    update(alarms)
                    .where(alarms.c.id.in_(overridden[i : i + 500]))
                    .values(state_override=False)
                )
            if changed:
                report.notifications += self._evaluate_composites(conn, now, changed=changed, mutes=mutes)

    def _evaluate_composites(
        self,
        conn: Connection,
        now: float,
        *,
        changed: Sequence[str] = (),
        names: Sequence[str] = (),
        mutes: dict[str, list[str]] | None = None,
    ) -> int:
        """Re-evaluate composites whose children changed (transitively) or that are named."""
        rows = conn.execute(select(alarms).where(alarms.c.kind == "composite")).all()
        if not rows:
            return 0
        mutes = self._muting_rules(conn, now) if mutes is None else mutes
        comps = {r.name: self._row_to_alarm(r) for r in rows}
        pending = set(names)
        frontier = set(changed)
        for _ in range(MAX_COMPOSITE_DEPTH):
            for c in comps.values():
                if frontier & set(c.config.get("children") or []):
                    pending.add(c.name)
            if not pending:
                break
            frontier = set()
            child_names = {ch for n in pending for ch in comps[n].config.get("children") or []}
            states = {
                r.name: r
                for r in conn.execute(
                    select(alarms.c.name, alarms.c.state_value, alarms.c.state_transitioned_at).where(
                        alarms.c.name.in_(list(child_names))
                    )
                )
            }
            sent = 0
            for n in sorted(pending):
                c = comps[n]
                rule = compile_rule(c.config["alarm_rule"])
                holds = rule.evaluate(
                    lambda ref, st=states: (
                        st[alarm_name_of(ref)].state_value if alarm_name_of(ref) in st else None
                    )
                )
                new = "ALARM" if holds else "OK"
                if new == c.state_value:
                    continue
                triggering = [
                    {
                        "Arn": self.arn(ch),
                        "State": {
                            "Value": states[ch].state_value,
                            "Timestamp": ev.iso_millis(states[ch].state_transitioned_at.timestamp()),
                        },
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
                sent += self._transition(conn, c, new, reason, data, now, mutes, triggering=triggering)
                frontier.add(n)
            pending = set()
            if not frontier:
                return sent
        return 0

    def _renotify(self, now: float, report: TickReport) -> None:
        self._release_held(now, report)
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(alarms).where(
                    alarms.c.state_value == "ALARM",
                    alarms.c.next_renotify_at.is_not(None),
                    alarms.c.next_renotify_at <= now,
                    alarms.c.acked_at.is_(None),
                )
            ).all()
            if not rows:
                return
            mutes = self._muting_rules(conn, now)
            for r in rows:
                a = self._row_to_alarm(r)
                sent, _ = self._run_actions(
                    conn, a, "ALARM", "ALARM", a.state_reason, now, mutes, None, renotify=True
                )
                report.notifications += sent
                conn.execute(
                    update(alarms)
                    .where(alarms.c.id == a.id)
                    .values(next_renotify_at=now + (a.renotify_interval or 3600))
                )

    def _release_held(self, now: float, report: TickReport) -> None:
        """An ALARM whose notification a mute held back is sent once the mute ends, if still firing."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(alarms).where(alarms.c.state_value == "ALARM", alarms.c.held_by_mute.is_(True))
            ).all()
            if not rows:
                return
            mutes = self._muting_rules(conn, now)
            for r in rows:
                a = self._row_to_alarm(r)
                if a.name in mutes:
                    continue
                sent, outcome = self._run_actions(
                    conn, a, "ALARM", "ALARM", a.state_reason, now, mutes, None, held=True
                )
                if outcome == "muted":
                    continue  # an ActionsSuppressor still holds it
                report.notifications += sent
                values: dict[str, Any] = {"held_by_mute": False, "alarm_notified": outcome == "sent"}
                if outcome == "sent" and a.renotify_interval and a.acked_at is None:
                    values["next_renotify_at"] = now + a.renotify_interval
                conn.execute(update(alarms).where(alarms.c.id == a.id).values(**values))

    # ------------------------------------------------------------ backtest

    def backtest(self, name: str, since: float, until: float | None = None) -> list[BacktestTransition]:
        """Replay a metric alarm over stored data: the transitions it would have made (one query)."""
        until = self.clock() if until is None else until
        if since >= until:
            raise Invalid("the backtest start must be before its end", field="since")
        a = self.get(name)
        if a.kind != "metric":
            raise Invalid(
                "backtests replay metric alarms; composite alarms follow their children", field="AlarmName"
            )
        cfg = self._eval_config(a)
        step = self._cadence(a)
        steps = int((until - since) // step)
        if steps > 200_000:
            raise LimitExceeded(
                "a backtest covers at most 200,000 evaluations; shorten the range", field="since"
            )
        lo_t, hi_t = ev.range_start(cfg, since), ev.window_end(cfg, until)
        if a.config.get("math"):
            points = self._fetch_math([a], lo_t, hi_t).get(a.id, [])
        else:
            q = self.stat_query(a)
            points = self.stats.fetch([q], lo_t, hi_t).get(q, [])
        points.sort(key=lambda p: p.ts)
        state = ev.StateValue.INSUFFICIENT_DATA
        out: list[BacktestTransition] = []
        span = (cfg.evaluation_periods + ev.EXTRA_PERIODS) * cfg.period
        lo = 0
        t = math.ceil(since / step) * step
        keys = [p.ts for p in points]
        while t <= until:
            end = ev.window_end(cfg, t)
            lo = bisect.bisect_left(keys, end - span, lo)
            hi = bisect.bisect_left(keys, end, lo)
            tr = ev.evaluate(cfg, ev.AlarmState(state), points[lo:hi], t)
            if tr is not None:
                out.append(BacktestTransition(t, tr.old.value, tr.new.value, tr.reason))
                state = tr.new
            t += step
        return out

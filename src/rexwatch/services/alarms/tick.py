"""The evaluator's batched pass: every due metric alarm, one statistics query, one transaction.

A tick reads the due alarms, fetches all their series with one
``StatsSource.fetch`` call (and one metric-math batch), runs the pure
``evaluate`` on each, then writes every transition with its history and
outbox rows in one transaction.

One bad alarm never stops the others. A statistics batch that fails is split
in halves until the failing series are isolated (within ``ISOLATION_QUERIES``
extra queries a tick), a math batch that fails is retried one alarm at a
time, and an alarm whose evaluation raises is skipped. Such an alarm keeps
its state (an internal failure is not a datapoint), is evaluated again at
its next slot, and carries ``evaluation_error`` until an evaluation succeeds;
the tick reports it in ``TickReport.failed`` and logs it by name.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rexwatch.errors import RexwatchError, Unavailable
from rexwatch.services.alarms import evaluate as ev
from rexwatch.services.alarms.composites import Composites
from rexwatch.services.alarms.definitions import eval_config, next_evaluation, stat_query
from rexwatch.services.alarms.history import Writes
from rexwatch.services.alarms.model import DueAlarm, StatQuery, TickReport
from rexwatch.services.alarms.mute_rules import MuteRules
from rexwatch.services.alarms.transitions import Transitions
from rexwatch.stores.control.alarms_repo import AlarmsRepo

if TYPE_CHECKING:
    from rexwatch.services.alarms.service import Context

log = logging.getLogger("rexwatch.alarms")

# Extra statistics queries one tick may spend isolating failing series: enough to find a
# handful among 10,000 by halving, bounded when everything fails (the store is down).
ISOLATION_QUERIES = 200
# Failed alarms logged one by one per tick; the rest in one summary line.
LOGGED_FAILURES = 20


def failure_text(e: BaseException) -> str:
    """What the user sees of a failure: a domain error's message; other errors stay in the log."""
    if isinstance(e, RexwatchError):
        return e.message[:500]
    return f"internal error ({type(e).__name__}); see the server log"


class Tick:
    def __init__(
        self,
        ctx: Context,
        repo: AlarmsRepo,
        transitions: Transitions,
        composites: Composites,
        mutes: MuteRules,
    ) -> None:
        self.ctx = ctx
        self.repo = repo
        self.transitions = transitions
        self.composites = composites
        self.mutes = mutes

    def run(self, now: float | None = None, *, limit: int | None = None) -> TickReport:
        """Evaluate every metric alarm due at ``now``; then re-notifications and held ALARMs."""
        started = time.perf_counter()
        now = self.ctx.now() if now is None else now
        report = TickReport()
        with self.repo.connect() as conn:
            due = self.repo.due(conn, now, limit)
        if due:
            decisions = self._decide(due, now, report)
            self._apply(decisions, now, report)
            self._log_failures(report)
        self.renotify(now, report)
        self.ctx.wake()
        report.seconds = time.perf_counter() - started
        return report

    # ------------------------------------------------------------ read and decide

    def _decide(
        self, due: list[DueAlarm], now: float, report: TickReport
    ) -> list[tuple[DueAlarm, ev.Transition | None, str | None]]:
        """(alarm, transition or None, error or None) for each due alarm."""
        failed: dict[int, tuple[str, str]] = {}
        cfgs: dict[int, ev.AlarmConfig] = {}
        for a in due:
            try:
                cfgs[a.id] = eval_config(a)
            except (KeyError, TypeError, ValueError) as e:  # a stored definition this version cannot read
                log.warning("alarm %r: unreadable definition", a.name, exc_info=e)
                failed[a.id] = ("evaluate", "the stored definition cannot be read")
        ok = [a for a in due if a.id in cfgs]
        series: dict[int, list[ev.Datapoint]] = {}
        if ok:
            start = min(ev.range_start(c, now) for c in cfgs.values())
            end = max(ev.window_end(c, now) for c in cfgs.values())
            simple = [a for a in ok if not a.config.get("math")]
            math_alarms = [a for a in ok if a.config.get("math")]
            if simple:
                wanted = {a.id: stat_query(a) for a in simple}
                data, refused = self._fetch(list(dict.fromkeys(wanted.values())), start, end, report)
                for a in simple:
                    q = wanted[a.id]
                    if q in data:
                        series[a.id] = data[q]
                    else:
                        failed[a.id] = ("query", refused.get(q, "statistics unavailable"))
            if math_alarms:
                got, refused_math = self._fetch_math(math_alarms, start, end, report)
                series.update(got)
                failed.update({i: ("math", msg) for i, msg in refused_math.items()})
        decisions: list[tuple[DueAlarm, ev.Transition | None, str | None]] = []
        for a in due:
            if a.id not in failed:
                try:
                    t = ev.evaluate(
                        cfgs[a.id], ev.AlarmState(ev.StateValue(a.state_value)), series.get(a.id, []), now
                    )
                    decisions.append((a, t, None))
                    continue
                except Exception as e:  # one alarm's failure must not stop the tick
                    log.warning("alarm %r: evaluation raised", a.name, exc_info=e)
                    failed[a.id] = ("evaluate", failure_text(e))
            reason, msg = failed[a.id]
            report.failed[a.name] = (reason, msg)
            decisions.append((a, None, f"{reason}: {msg}"))  # state kept; evaluated again next slot
        report.evaluated = len(due)
        return decisions

    def _fetch(
        self, queries: list[StatQuery], start: float, end: float, report: TickReport
    ) -> tuple[dict[StatQuery, list[ev.Datapoint]], dict[StatQuery, str]]:
        """All series in one call; when it fails, halves until the failing series are isolated."""
        budget = [ISOLATION_QUERIES]

        def fetch(part: list[StatQuery]) -> tuple[dict, dict[StatQuery, str]]:
            report.queries += 1
            try:
                return self.ctx.stats.fetch(part, start, end), {}
            except Exception as e:  # isolate it below
                give_up = len(part) == 1 or budget[0] < 2 or isinstance(e, Unavailable)
                log.warning(
                    "alarms: statistics query for %d series failed%s",
                    len(part),
                    "" if give_up else "; isolating the failing series",
                    exc_info=e if not isinstance(e, RexwatchError) else None,
                )
                if give_up:
                    return {}, {q: failure_text(e) for q in part}
            budget[0] -= 2
            mid = len(part) // 2
            data, refused = fetch(part[:mid])
            more, more_refused = fetch(part[mid:])
            return {**data, **more}, {**refused, **more_refused}

        return fetch(queries)

    def _fetch_math(
        self, math_alarms: Sequence[DueAlarm], start: float, end: float, report: TickReport
    ) -> tuple[dict[int, list[ev.Datapoint]], dict[int, str]]:
        """Math alarms in one batch; when it fails, one request per alarm."""
        from rexwatch.services.alarms.sources import whole_request

        fetch_math = getattr(self.ctx.stats, "fetch_math", None)
        if fetch_math is None:
            msg = "this statistics source cannot evaluate metric math alarms"
            return {}, {a.id: msg for a in math_alarms}
        own = sum(1 for a in math_alarms if whole_request(a.config["metrics"]))
        report.queries += own + (1 if own < len(math_alarms) else 0)
        try:
            return fetch_math([(a.id, a.config["metrics"]) for a in math_alarms], start, end), {}
        except Exception as e:  # isolate it below
            if len(math_alarms) == 1:
                log.warning("alarm %r: metric math failed", math_alarms[0].name, exc_info=e)
                return {}, {math_alarms[0].id: failure_text(e)}
        out: dict[int, list[ev.Datapoint]] = {}
        refused: dict[int, str] = {}
        for a in math_alarms:
            report.queries += 1
            try:
                out.update(fetch_math([(a.id, a.config["metrics"])], start, end))
            except Exception as e:  # only this alarm fails
                log.warning("alarm %r: metric math failed", a.name, exc_info=e)
                refused[a.id] = failure_text(e)
        return out, refused

    @staticmethod
    def _log_failures(report: TickReport) -> None:
        for i, (name, (reason, msg)) in enumerate(report.failed.items()):
            if i == LOGGED_FAILURES:
                log.warning("alarms: %d more alarms not evaluated this tick", len(report.failed) - i)
                break
            log.warning("alarm %r not evaluated (%s: %s); its state is kept", name, reason, msg)

    # ------------------------------------------------------------ write

    def _apply(
        self,
        decisions: list[tuple[DueAlarm, ev.Transition | None, str | None]],
        now: float,
        report: TickReport,
    ) -> None:
        with self.repo.begin() as conn:
            mutes = self.mutes.muting(conn, now)
            writes = Writes()
            # Lock the rows that change and skip any whose state moved since they were read
            # (a concurrent SetAlarmState): that alarm is simply evaluated again next tick.
            current = self.repo.lock(conn, [a.id for a, t, _ in decisions if t is not None])
            quiet: dict[tuple[float, str | None], list[int]] = {}
            changed: list[str] = []
            for a, t, error in decisions:
                nxt = next_evaluation(a, now)
                full = current.get(a.id)
                if t is None or full is None or full.state_value != a.state_value:
                    quiet.setdefault((nxt, error), []).append(a.id)
                    continue
                report.notifications += self.transitions.apply(
                    conn,
                    full,
                    t.new.value,
                    t.reason,
                    t.reason_data,
                    now,
                    mutes,
                    writes=writes,
                    extra={"next_eval_at": nxt, "last_eval_at": now},
                )
                report.transitions += 1
                changed.append(a.name)
            self.transitions.flush(conn, writes)
            for (nxt, error), ids in quiet.items():
                self.repo.set_fields_of(conn, ids, next_eval_at=nxt, last_eval_at=now, evaluation_error=error)
            # An evaluation that confirmed a SetAlarmState state ends the override.
            overridden = [
                a.id for a, t, error in decisions if t is None and error is None and a.state_override
            ]
            self.repo.set_fields_of(conn, overridden, state_override=False)
            if changed:
                report.notifications += self.composites.evaluate(conn, now, changed=changed, mutes=mutes)

    # ------------------------------------------------------------ re-notify and held ALARMs

    def renotify(self, now: float, report: TickReport) -> None:
        """Re-send ALARM notifications that are due, after releasing ALARMs a mute held back."""
        self.release_held(now, report)
        with self.repo.begin() as conn:
            rows = self.repo.renotify_due(conn, now)
            if not rows:
                return
            mutes = self.mutes.muting(conn, now)
            for a in rows:
                sent, _ = self.transitions.run_actions(
                    conn, a, "ALARM", "ALARM", a.state_reason, now, mutes, None, renotify=True
                )
                report.notifications += sent
                self.repo.set_fields(conn, a.id, next_renotify_at=now + (a.renotify_interval or 3600))

    def release_held(self, now: float, report: TickReport) -> None:
        """An ALARM whose notification a mute held back is sent once the mute ends, if still firing."""
        with self.repo.begin() as conn:
            rows = self.repo.held_by_mute(conn)
            if not rows:
                return
            mutes = self.mutes.muting(conn, now)
            for a in rows:
                if a.name in mutes:
                    continue
                sent, outcome = self.transitions.run_actions(
                    conn, a, "ALARM", "ALARM", a.state_reason, now, mutes, None, held=True
                )
                if outcome == "muted":
                    continue  # an ActionsSuppressor still holds it
                report.notifications += sent
                values: dict = {"held_by_mute": False, "alarm_notified": outcome == "sent"}
                if outcome == "sent" and a.renotify_interval and a.acked_at is None:
                    values["next_renotify_at"] = now + a.renotify_interval
                self.repo.set_fields(conn, a.id, **values)

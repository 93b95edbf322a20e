"""Log alarms: scheduled Logs Insights queries (or filter-pattern counts) with a threshold per key.

Each evaluator tick reads the due log alarms, runs each distinct source (query
text, log groups and window) once — alarms sharing a source share the query —
up to ``log_alarm_queries_per_tick`` queries, and evaluates every alarm with the
pure ``log_evaluate.evaluate_log``. All state changes, key states, history,
outbox rows and blocks of a tick commit in one transaction.

Queries run under the telemetry limits every Logs Insights query has
(``query_timeout_s``, ``telemetry_max_memory_mb``) and read at most
``MAX_KEYS`` rows. A failed query keeps the alarm's state and sets its
``evaluation_error`` until an evaluation succeeds, as metric alarms do.

Notifications: the alarm moving to ALARM or OK is a transition with the usual
history, mutes, acknowledgement and actions. While it stays in ALARM, each new
key that fires is notified on its own (with its rows), and each key that
resolves is a history item. ``block-ip:<duration>`` actions block the
``ip_column`` value of every key that fires; a mute rule holds back
notifications, not blocks (a maintenance window must not open the door to an
attack), and ``ActionsEnabled=false`` disables both.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rexwatch.errors import Invalid, LimitExceeded, NotFound, RexwatchError
from rexwatch.services.alarms.history import Writes
from rexwatch.services.alarms.log_definitions import (
    MAX_KEYS,
    block_seconds,
    ip_of,
    is_block_action,
    next_log_evaluation,
)
from rexwatch.services.alarms.log_evaluate import KeyValue, LogDecision, LogRule, evaluate_log, key_values
from rexwatch.services.alarms.model import Alarm, LogAlarmKey, LogBacktestItem, TickReport
from rexwatch.services.alarms.tick import failure_text
from rexwatch.stores.control.log_alarm_keys_repo import LogAlarmKeysRepo

if TYPE_CHECKING:
    from rexwatch.services.alarms.composites import Composites
    from rexwatch.services.alarms.mute_rules import MuteRules
    from rexwatch.services.alarms.service import Context
    from rexwatch.services.alarms.transitions import Transitions
    from rexwatch.stores.control.alarms_repo import AlarmsRepo

log = logging.getLogger("rexwatch.alarms")

MAX_BACKTEST_STEPS = 2016  # a week of 5-minute evaluations: each step is one query


@dataclass(frozen=True)
class Source:
    """What one query reads: alarms with equal sources share one query per tick."""

    query: str | None
    filter_pattern: str | None
    groups: tuple[str, ...]
    window: int

    @classmethod
    def of(cls, config: dict[str, Any]) -> Source:
        return cls(config.get("query"), config.get("filter_pattern"), tuple(config["log_group_names"]),
                   int(config["window"]))


class LogAlarms:
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
        self.keys_repo = LogAlarmKeysRepo()
        self.transitions = transitions
        self.composites = composites
        self.mutes = mutes

    # ------------------------------------------------------------ reading a source

    def read(self, src: Source, end: float) -> tuple[list[str], list[tuple]]:
        """(columns, rows) of ``src`` over [end - window, end)."""
        start_ms, end_ms = int((end - src.window) * 1000), int(end * 1000) - 1
        if src.query is not None:
            from rexwatch.services.insights.service import QueriesService

            q = self.ctx.runtime.service(QueriesService)
            return q.run_now(src.query, list(src.groups), start_ms, end_ms, limit=MAX_KEYS)
        from rexwatch.services.logs import LogsService

        logs = self.ctx.runtime.service(LogsService)
        n = sum(logs.count_events(g, start_ms, end_ms + 1, src.filter_pattern) for g in src.groups)
        return ["count"], [(n,)]

    # ------------------------------------------------------------ the tick

    def run(self, now: float, report: TickReport) -> None:
        budget = int(self.ctx.runtime.settings.log_alarm_queries_per_tick)
        with self.repo.connect() as conn:
            due = self.repo.due_logs(conn, now)
        if not due:
            return
        results: dict[Source, tuple[list[str], list[tuple]] | str] = {}
        todo: list[Alarm] = []
        for a in due:
            src = Source.of(a.config)
            if src not in results:
                if len(results) >= budget:
                    continue  # stays due: the next tick takes it first (oldest next_eval_at first)
                report.queries += 1
                try:
                    results[src] = self.read(src, now)
                except Exception as e:  # one alarm's source failing must not stop the others
                    if not isinstance(e, RexwatchError):
                        log.warning("log alarm %r: query failed", a.name, exc_info=e)
                    results[src] = failure_text(e)
            todo.append(a)
        report.evaluated += len(todo)
        with self.repo.begin() as conn:
            mutes = self.mutes.muting(conn, now)
            locked = self.repo.lock(conn, [a.id for a in todo])
            changed: list[str] = []
            events: list[dict[str, Any]] = []
            for a in todo:
                full = locked.get(a.id)
                if full is None:
                    continue  # deleted meanwhile
                got = results[Source.of(full.config)]
                nxt = next_log_evaluation(full.config, now)
                if isinstance(got, str):
                    report.failed[full.name] = ("query", got)
                    self.repo.set_fields(conn, full.id, next_eval_at=nxt, last_eval_at=now,
                                         evaluation_error=f"query: {got}")
                    continue
                try:
                    moved = self._apply(conn, full, got, now, nxt, mutes, report, events)
                except Exception as e:  # keep the state; evaluated again next slot
                    log.warning("log alarm %r: evaluation raised", full.name, exc_info=e)
                    report.failed[full.name] = ("evaluate", failure_text(e))
                    self.repo.set_fields(conn, full.id, next_eval_at=nxt, last_eval_at=now,
                                         evaluation_error=f"evaluate: {failure_text(e)}")
                    continue
                if moved:
                    changed.append(full.name)
            if changed:
                report.notifications += self.composites.evaluate(conn, now, changed=changed, mutes=mutes)
        if events:
            self._blocklist().emit(events)

    def _blocklist(self):
        from rexwatch.services.security.blocklist import BlocklistService

        return self.ctx.runtime.service(BlocklistService)

    def _apply(
        self,
        conn,
        a: Alarm,
        result: tuple[list[str], list[tuple]],
        now: float,
        nxt: float,
        mutes: dict[str, list[str]],
        report: TickReport,
        events: list[dict[str, Any]],
    ) -> bool:
        """Write one alarm's evaluation; True when its state changed."""
        rule = LogRule.of(a.config)
        prev = self.keys_repo.of(conn, a.name)
        in_alarm = set(prev) if a.state_value == "ALARM" else set()
        d = evaluate_log(rule, in_alarm, key_values(rule, *result))
        for kv in d.fired:
            self.keys_repo.remove(conn, a.name, [kv.key])  # a leftover of an earlier episode
            self.keys_repo.add(conn, LogAlarmKey(a.name, kv.key, "ALARM", kv.value, _jsonable(kv.row), now, now))
        for kv in d.held:
            self.keys_repo.touch(conn, a.name, kv.key, kv.value, _jsonable(kv.row), now)
        stale = [k for k in prev if k not in in_alarm]
        self.keys_repo.remove(conn, a.name, [*d.resolved, *stale])
        writes = Writes()
        for k in d.resolved:
            if d.state == "ALARM":  # when the whole alarm resolves, its transition says so
                self.transitions.history.record(
                    conn, a.name, a.alarm_type, now, "StateUpdate", f"Key {k or '(all)'} resolved",
                    {"version": "1.0", "key": k, "newState": {"stateValue": "OK"}}, writes,
                )
        if a.actions_enabled:
            self._block(conn, a, rule, d.fired, now, events)
        details = _details(a, rule, d)
        data = d.reason_data(rule)
        extra = {"next_eval_at": nxt, "last_eval_at": now}
        if a.state_value != d.state:
            report.notifications += self.transitions.apply(
                conn, a, d.state, d.reason, data, now, mutes, writes=writes, extra=extra, details=details
            )
            report.transitions += 1
            self.transitions.flush(conn, writes)
            return True
        if d.fired:  # already in ALARM: each new key is news of its own
            self.transitions.history.record(
                conn, a.name, a.alarm_type, now, "StateUpdate", f"New keys in ALARM: {d.reason}",
                {"version": "1.0", "keys": [kv.key for kv in d.fired],
                 "newState": {"stateValue": "ALARM", "stateReason": d.reason}}, writes,
            )
            sent, _ = self.transitions.run_actions(
                conn, a, "ALARM", "ALARM", d.reason, now, mutes, None, writes=writes, details=details,
                dedup_extra="keys:" + ",".join(kv.key for kv in d.fired)[:500],
            )
            report.notifications += sent
            self.repo.set_fields(conn, a.id, state_reason=d.reason, state_reason_data=data,
                                 evaluation_error=None, state_override=False, **extra)
        else:
            values: dict[str, Any] = {"evaluation_error": None, "state_override": False, **extra}
            if d.state == "ALARM":
                values.update(state_reason_data=data)
            self.repo.set_fields(conn, a.id, **values)
        self.transitions.flush(conn, writes)
        return False

    def _block(self, conn, a: Alarm, rule: LogRule, fired: list[KeyValue], now: float,
               events: list[dict[str, Any]]) -> None:
        blocks = [x for x in a.alarm_actions if is_block_action(x)]
        column = a.config.get("ip_column")
        if not blocks or not column:
            return
        ttl = max((block_seconds(x) or 0 for x in blocks), default=0)
        forever = any(block_seconds(x) is None for x in blocks)
        svc = self._blocklist()
        for kv in fired:
            ip = ip_of(kv.row.get(column))
            if ip is None:
                self.transitions.history.record(
                    conn, a.name, a.alarm_type, now, "Action",
                    f"Not blocked: {column}={kv.row.get(column)!r} is not an IP address",
                    {"actionState": "Failed", "key": kv.key},
                )
                continue
            reason = f"{a.name}: {rule.column}={kv.value:g}"
            ev = svc.block_in(conn, ip, None if forever else ttl, reason, alarm_name=a.name,
                              added_by=f"alarm:{a.name}", now=now)
            events.append(ev)
            blocked = ev["event"] == "block"
            self.transitions.history.record(
                conn, a.name, a.alarm_type, now, "Action",
                f"Blocked {ip}" + ("" if forever else f" for {ttl} s") if blocked
                else f"Not blocked: {ip} is on the allowlist ({ev.get('allowlisted_by')})",
                {"actionState": "Succeeded" if blocked else "Suppressed", "block": ev},
            )

    # ------------------------------------------------------------ reads

    def keys(self, name: str) -> list[LogAlarmKey]:
        with self.repo.connect() as conn:
            a = self.repo.get(conn, name)
            if a is None or a.kind != "log":
                raise NotFound(f"Log alarm {name} does not exist", field="AlarmName")
            return list(self.keys_repo.of(conn, name).values()) if a.state_value == "ALARM" else []

    def backtest(self, a: Alarm, since: float, until: float) -> list[LogBacktestItem]:
        """Replay the alarm's current definition over stored logs: one query per evaluation step
        from ``since`` to ``until``, each over its own window, starting with no key in ALARM."""
        if a.kind != "log":
            raise Invalid(f"{a.name} is not a log alarm", field="AlarmName")
        if since >= until:
            raise Invalid("the backtest start must be before its end", field="since")
        step = int(a.config["every"])
        first = math.ceil(since / step) * step
        steps = int((until - first) // step) + 1
        if steps > MAX_BACKTEST_STEPS:
            raise LimitExceeded(
                f"a log alarm backtest covers at most {MAX_BACKTEST_STEPS} evaluations "
                f"({steps} asked); shorten the range", field="since"
            )
        rule = LogRule.of(a.config)
        src = Source.of(a.config)
        in_alarm: set[str] = set()
        out: list[LogBacktestItem] = []
        t = float(first)
        while t <= until:
            d = evaluate_log(rule, in_alarm, key_values(rule, *self.read(src, t)))
            values = {kv.key: kv.value for kv in d.offending} | {kv.key: kv.value for kv in d.fired}
            out.extend(LogBacktestItem(t, kv.key, "OK", "ALARM", kv.value) for kv in d.fired)
            out.extend(LogBacktestItem(t, k, "ALARM", "OK", values.get(k)) for k in d.resolved)
            in_alarm = (in_alarm - set(d.resolved)) | {kv.key for kv in d.fired}
            t += step
        return out


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {str(k): (v if isinstance(v, int | float | str | bool) or v is None else str(v)) for k, v in row.items()}


def _details(a: Alarm, rule: LogRule, d: LogDecision) -> dict[str, Any]:
    """What a log alarm's notification adds: the keys that fired and the top offending rows."""
    return {
        "NewKeys": [kv.key for kv in d.fired],
        "ResolvedKeys": list(d.resolved),
        "OffendingRows": [_jsonable(kv.row) for kv in d.offending],
        "TopRows": rule.top_rows,
    }

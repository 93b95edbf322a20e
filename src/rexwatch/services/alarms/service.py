"""AlarmsService: the alarms facade. It composes the modules below by delegation.

    definitions.py   validation of AlarmDefinition / CompositeAlarmDefinition (pure)
    catalog.py       put, describe, delete, action switches, tags
    evaluate.py      the evaluator: a pure function of time
    tick.py          the worker's batched pass (isolates failing alarms)
    transitions.py   state changes and their actions, in the caller's transaction
    composites.py    composite alarms follow their children
    mute_rules.py    maintenance windows (schedules parsed in mute.py)
    acknowledge.py   acknowledgement and re-notification
    history.py       history items, DescribeAlarmHistory, retention
    backtest.py      replay over stored data

SQL lives in ``stores/control/alarms_repo.py``, ``alarm_history_repo.py`` and
``mutes_repo.py``. State, history and the notifications a transition causes
commit in one transaction (the notify outbox is filled inside it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from rexwatch.errors import Invalid, InvalidFormat, NotFound
from rexwatch.services import access
from rexwatch.services.alarms import backtest as backtests
from rexwatch.services.alarms.acknowledge import Acknowledgements
from rexwatch.services.alarms.catalog import Catalog
from rexwatch.services.alarms.composites import Composites
from rexwatch.services.alarms.definitions import STATES, next_evaluation
from rexwatch.services.alarms.history import History
from rexwatch.services.alarms.log_alarms import LogAlarms
from rexwatch.services.alarms.model import (
    Alarm,
    AlarmDefinition,
    BacktestTransition,
    CompositeAlarmDefinition,
    LogAlarmDefinition,
    LogAlarmKey,
    LogBacktestItem,
    MuteRule,
    MuteRuleDefinition,
    TickReport,
)
from rexwatch.services.alarms.mute_rules import MuteRules
from rexwatch.services.alarms.sources import Notifier, StatsSource
from rexwatch.services.alarms.tick import Tick
from rexwatch.services.alarms.transitions import Transitions
from rexwatch.stores.control.alarm_history_repo import AlarmHistoryRepo
from rexwatch.stores.control.alarms_repo import AlarmsRepo
from rexwatch.stores.control.mutes_repo import MutesRepo


class Context:
    """What every part shares: settings, the clock and the two seams (statistics in,
    notifications out). Tests and benchmarks replace ``clock``, ``stats`` and ``notifier``."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.region: str = runtime.settings.region
        self.account: str = runtime.settings.account_id
        self.clock: Callable[[], float] = time.time
        self._stats: StatsSource | None = None
        self._notifier: Notifier | None = None

    def now(self) -> float:
        return self.clock()

    def arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm:{name}"

    def mute_rule_arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm-mute-rule:{name}"

    @property
    def stats(self) -> StatsSource:
        if self._stats is None:
            from rexwatch.services.alarms.sources import MetricsStats

            self._stats = MetricsStats(self.runtime)
        return self._stats

    @property
    def notifier(self) -> Notifier:
        if self._notifier is None:
            from rexwatch.services.alarms.sources import OutboxNotifier

            self._notifier = OutboxNotifier(self.runtime)
        return self._notifier

    def wake(self) -> None:
        """After a commit that queued notifications: let this process's notifier send now."""
        wake = getattr(self._notifier, "wake", None)
        if wake is not None:
            wake()


class AlarmsService:
    """CloudWatch metric and composite alarms, their evaluation, mutes, acknowledgement and history."""

    def __init__(self, runtime: Any) -> None:
        self.ctx = ctx = Context(runtime)
        self.repo = AlarmsRepo(runtime.control, ctx.arn)
        self.mutes_repo = MutesRepo(runtime.control)
        self.history = History(AlarmHistoryRepo(runtime.control))
        self.mute_rules = MuteRules(self.mutes_repo, ctx.now, ctx.mute_rule_arn)
        self.transitions = Transitions(ctx, self.repo, self.history)
        self.composites = Composites(ctx, self.repo, self.transitions, self.mute_rules)
        self.catalog = Catalog(
            ctx, self.repo, self.mutes_repo, self.history, self.composites, self.mute_rules
        )
        self.acks = Acknowledgements(ctx, self.repo, self.history)
        self.tick = Tick(ctx, self.repo, self.transitions, self.composites, self.mute_rules)
        self.log_alarms = LogAlarms(ctx, self.repo, self.transitions, self.composites, self.mute_rules)

    # ------------------------------------------------------------ seams

    @property
    def clock(self) -> Callable[[], float]:
        return self.ctx.clock

    @clock.setter
    def clock(self, value: Callable[[], float]) -> None:
        self.ctx.clock = value

    @property
    def stats(self) -> StatsSource:
        return self.ctx.stats

    @stats.setter
    def stats(self, value: StatsSource) -> None:
        self.ctx._stats = value

    @property
    def notifier(self) -> Notifier:
        return self.ctx.notifier

    @notifier.setter
    def notifier(self, value: Notifier) -> None:
        self.ctx._notifier = value

    def arn(self, name: str) -> str:
        return self.ctx.arn(name)

    # ------------------------------------------------------------ definitions

    def put_metric_alarm(self, d: AlarmDefinition) -> None:
        self.catalog.put_metric_alarm(d)

    def put_composite_alarm(self, d: CompositeAlarmDefinition) -> None:
        self.catalog.put_composite_alarm(d)

    def get(self, name: str) -> Alarm:
        return self.catalog.get(name)

    def describe_alarms(self, **filters: Any) -> tuple[list[Alarm], str | None]:
        return self.catalog.describe_alarms(**filters)

    def describe_alarms_for_metric(self, **filters: Any) -> list[Alarm]:
        return self.catalog.describe_alarms_for_metric(**filters)

    def delete_alarms(self, names: Sequence[str]) -> None:
        self.catalog.delete_alarms(names)

    def set_actions_enabled(self, names: Sequence[str], enabled: bool) -> None:
        self.catalog.set_actions_enabled(names, enabled)

    def list_tags(self, arn: str):
        return self.catalog.list_tags(arn)

    def tag_resource(self, arn: str, tags) -> None:
        self.catalog.tag_resource(arn, tags)

    def untag_resource(self, arn: str, keys: Sequence[str]) -> None:
        self.catalog.untag_resource(arn, keys)

    def counts(self) -> dict[str, int]:
        """State -> number of alarms the caller sees (for the overview and /metrics)."""
        return self.repo.counts(access.visible_teams())

    # ------------------------------------------------------------ state

    def set_alarm_state(self, name: str, state: str, reason: str, reason_data: str | None = None) -> None:
        """Set the state until the next evaluation, firing actions as a real transition would."""
        if state not in STATES:
            raise Invalid(f"StateValue must be one of {', '.join(STATES)}", field="StateValue")
        if reason is None or len(reason) > 1023:
            raise Invalid("StateReason is required and at most 1023 characters", field="StateReason")
        if reason_data:
            import json

            try:
                json.loads(reason_data)
            except ValueError:
                raise InvalidFormat("StateReasonData must be valid JSON", field="StateReasonData")
        now = self.ctx.now()
        with self.repo.begin() as conn:
            a = self.repo.get(conn, name, for_update=True)
            if a is None or not access.may_see(a.team_id):
                raise NotFound(f"Alarm {name} does not exist", field="AlarmName")
            mutes = self.mute_rules.muting(conn, now)
            self.transitions.apply(conn, a, state, reason, reason_data, now, mutes, override=True)
            if a.kind == "metric":
                # Evaluated again at the next slot, not before: the override lasts until then.
                self.repo.set_fields(conn, a.id, next_eval_at=next_evaluation(a, now))
            self.composites.evaluate(conn, now, changed=[name], mutes=mutes)
        self.ctx.wake()

    def evaluate_due(self, now: float | None = None, *, limit: int | None = None) -> TickReport:
        """The worker's tick: every metric alarm due at ``now``, batched; then the due log alarms."""
        now = self.ctx.now() if now is None else now
        report = self.tick.run(now, limit=limit)
        started = time.perf_counter()
        self.log_alarms.run(now, report)
        self.ctx.wake()
        report.seconds += time.perf_counter() - started
        return report

    # ------------------------------------------------------------ log alarms

    def put_log_alarm(self, d: LogAlarmDefinition) -> None:
        self.catalog.put_log_alarm(d)

    def log_alarms_list(self, *, prefix: str | None = None, state: str | None = None) -> list[Alarm]:
        """Every log alarm (they are few; no paging)."""
        with self.repo.connect() as conn:
            out = list(self.repo.describe(conn, kinds=["log"], prefix=prefix, state=state,
                                          teams=access.visible_teams()))
            muting = self.mute_rules.muting(conn, self.ctx.now())
        for a in out:
            a.muted_by = muting.get(a.name, [])
        return out

    def get_log_alarm(self, name: str) -> Alarm:
        a = self.get(name)
        if a.kind != "log":
            raise NotFound(f"Log alarm {name} does not exist (it is a {a.kind} alarm)", field="AlarmName")
        return a

    def log_alarm_keys(self, name: str) -> list[LogAlarmKey]:
        """The keys of a log alarm that are in ALARM, with the row that breached."""
        self.get(name)  # NotFound unless the caller sees it
        return self.log_alarms.keys(name)

    def backtest_log(self, name: str, since: float, until: float | None = None) -> list[LogBacktestItem]:
        """Replay a log alarm over stored logs: each key's transitions (one query per step)."""
        a = self.get_log_alarm(name)
        return self.log_alarms.backtest(a, since, self.ctx.now() if until is None else until)

    def backtest(self, name: str, since: float, until: float | None = None) -> list[BacktestTransition]:
        """Replay a metric alarm over stored data: the transitions it would have made (one query)."""
        return backtests.backtest(self.ctx, self.get(name), since, self.ctx.now() if until is None else until)

    # ------------------------------------------------------------ mutes, acknowledgement, history

    def _check_visible(self, names: Sequence[str]) -> None:
        """NotFound for an alarm of a team the caller is not in (names of no alarm are let through:
        a mute rule may name alarms to come)."""
        teams = access.visible_teams()
        if teams is None:
            return
        with self.repo.connect() as conn:
            hidden = [a.name for a in self.repo.describe(conn, names=list(names)) if not access.may_see(a.team_id)]
        if hidden:
            raise NotFound(f"Alarm {hidden[0]} does not exist", field="AlarmName")

    def put_mute_rule(self, d: MuteRuleDefinition) -> None:
        self._check_visible(d.alarm_names)
        self.mute_rules.put(d)

    def get_mute_rule(self, name: str) -> MuteRule:
        return self.mute_rules.get(name)

    def list_mute_rules(self, **filters: Any) -> tuple[list[MuteRule], str | None]:
        return self.mute_rules.list(**filters)

    def delete_mute_rule(self, name: str) -> None:
        self.mute_rules.delete(name)

    def mute(self, alarm_names: Sequence[str], **window: Any) -> MuteRule:
        self._check_visible(alarm_names)
        return self.mute_rules.mute(alarm_names, **window)

    def acknowledge(self, name: str, by: str, reason: str = "") -> Alarm:
        self.get(name)  # NotFound unless the caller sees it
        return self.acks.acknowledge(name, by, reason)

    def set_renotify(self, name: str, interval: int | None) -> Alarm:
        self.get(name)
        return self.acks.set_renotify(name, interval)

    def describe_history(self, **filters: Any):
        return self.history.describe(**filters)

    def prune_history(self, now: float, keep_days: int | None = None) -> int:
        return self.history.prune(now) if keep_days is None else self.history.prune(now, keep_days)

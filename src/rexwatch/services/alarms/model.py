"""Typed inputs and outputs of the alarms service.

Front doors build the ``*Definition`` objects from their protocol (the AWS door
from PutMetricAlarm's members, REST from its pydantic bodies) and render the
``Alarm``, ``HistoryItem`` and ``MuteRule`` results back into it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------- definitions (in)


@dataclass(frozen=True)
class Dimension:
    name: str
    value: str


@dataclass(frozen=True)
class Tag:
    key: str
    value: str = ""


@dataclass(frozen=True)
class MetricStat:
    """One metric series and how to aggregate it (``stat`` is a statistic or a percentile)."""

    namespace: str | None
    metric_name: str | None
    dimensions: tuple[Dimension, ...] = ()
    period: int | None = None
    stat: str | None = None
    unit: str | None = None


@dataclass(frozen=True)
class MetricQuery:
    """One entry of a metric math alarm: a ``metric_stat`` or a math ``expression``."""

    id: str | None
    metric_stat: MetricStat | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = True
    period: int | None = None


def metric_queries_from_aws(raw: Iterable[dict[str, Any]] | None,
                            dims: Callable[[Iterable[dict[str, Any]] | None], Iterable[Dimension]],
                            ) -> tuple[MetricQuery, ...]:
    """``Metrics`` in the AWS shape, as the wire and the store both hold it; ``dims`` reads dimensions
    (the door is lenient and validates later, the store is strict)."""
    out = []
    for m in raw or []:
        stat = None
        if m.get("MetricStat") is not None:
            ms = m["MetricStat"]
            met = ms.get("Metric") or {}
            stat = MetricStat(met.get("Namespace"), met.get("MetricName"), tuple(dims(met.get("Dimensions"))),
                              ms.get("Period"), ms.get("Stat"), ms.get("Unit"))
        out.append(MetricQuery(m.get("Id"), stat, m.get("Expression"), m.get("Label"),
                               bool(m.get("ReturnData", True)), m.get("Period")))
    return tuple(out)


@dataclass(frozen=True)
class Actions:
    """Topic ARNs notified when an alarm enters each state."""

    alarm: tuple[str, ...] = ()
    ok: tuple[str, ...] = ()
    insufficient_data: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlarmDefinition:
    """A metric alarm as a client defines it: one series (``metric_name`` ...) or ``metrics``.

    Values are validated by ``definitions.validate_metric_alarm``; ``None`` means "not given".
    """

    name: str
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: tuple[Dimension, ...] = ()
    statistic: str | None = None
    extended_statistic: str | None = None
    period: int | None = None
    unit: str | None = None
    evaluation_periods: int | None = None
    datapoints_to_alarm: int | None = None
    threshold: float | None = None
    comparison_operator: str | None = None
    treat_missing_data: str | None = None
    evaluate_low_sample_count_percentile: str | None = None
    metrics: tuple[MetricQuery, ...] = ()
    description: str | None = None
    actions_enabled: bool = True
    actions: Actions = Actions()
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True)
class CompositeAlarmDefinition:
    """A composite alarm: a rule over other alarms' states."""

    name: str
    alarm_rule: str | None
    description: str | None = None
    actions_enabled: bool = True
    actions: Actions = Actions()
    actions_suppressor: str | None = None
    actions_suppressor_wait_period: int | None = None
    actions_suppressor_extension_period: int | None = None
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True)
class MuteRuleDefinition:
    """A maintenance window: ``expression`` is ``cron(...)`` or ``at(...)``, ``duration`` ISO 8601."""

    name: str
    expression: str
    duration: str
    alarm_names: tuple[str, ...]
    timezone: str | None = None
    description: str | None = None
    start_date: dt.datetime | None = None
    expire_date: dt.datetime | None = None
    tags: tuple[Tag, ...] = ()


@dataclass
class AlarmRecord:
    """A validated definition in the form the store keeps (``config`` holds the snake_case rest)."""

    name: str
    kind: str  # metric | composite | log
    description: str | None
    namespace: str | None
    metric_name: str | None
    dimensions: list[Dimension]
    config: dict[str, Any]
    actions_enabled: bool
    actions: Actions
    tags: list[Tag]


# ---------------------------------------------------------------- results (out)


@dataclass(frozen=True)
class StatQuery:
    """One statistics series an alarm needs: the unit of batching across alarms."""

    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str  # Average | Sum | ... or a percentile such as p99
    period: int
    unit: str | None = None


@dataclass
class Alarm:
    """An alarm with its state. ``config`` holds the definition's remaining fields in snake_case
    (``metrics`` as ``MetricQuery`` entries, ``alarm_rule`` and ``children`` for composites)."""

    name: str
    arn: str
    kind: str  # metric | composite | log
    description: str | None
    namespace: str | None
    metric_name: str | None
    dimensions: list[Dimension]
    config: dict[str, Any]
    actions_enabled: bool
    alarm_actions: list[str]
    ok_actions: list[str]
    insufficient_data_actions: list[str]
    tags: list[Tag]
    config_updated_at: dt.datetime
    state_value: str
    state_reason: str
    state_reason_data: str | None
    state_updated_at: dt.datetime
    state_transitioned_at: dt.datetime
    state_override: bool = False
    renotify_interval: int | None = None
    acked_at: dt.datetime | None = None
    acked_by: str | None = None
    ack_reason: str | None = None
    alarm_notified: bool = False
    held_by_mute: bool = False
    # Why the last evaluation could not judge the alarm (its state was kept), if it failed.
    evaluation_error: str | None = None
    muted_by: list[str] = field(default_factory=list)
    id: int = 0
    # The team the alarm belongs to; None: no team (every caller sees it).
    team_id: int | None = None

    def actions_for(self, state: str) -> list[str]:
        return {
            "ALARM": self.alarm_actions,
            "OK": self.ok_actions,
            "INSUFFICIENT_DATA": self.insufficient_data_actions,
        }[state]

    @property
    def alarm_type(self) -> str:
        return alarm_type_of(self.kind)


def alarm_type_of(kind: str) -> str:
    return {"composite": "CompositeAlarm", "log": "LogAlarm"}.get(kind, "MetricAlarm")


@dataclass
class DueAlarm:
    """The columns of an alarm that evaluation reads (the full row is loaded only on a transition)."""

    id: int
    name: str
    namespace: str | None
    metric_name: str | None
    config: dict[str, Any]
    state_value: str
    state_override: bool
    dimensions: tuple[Dimension, ...] = ()


@dataclass
class HistoryItem:
    alarm_name: str
    alarm_type: str
    timestamp: dt.datetime
    item_type: str
    summary: str
    data: str


@dataclass
class MuteRule:
    name: str
    arn: str
    description: str | None
    expression: str
    duration: str
    timezone: str
    alarm_names: list[str]
    start_date: dt.datetime | None
    expire_date: dt.datetime | None
    tags: list[Tag]
    updated_at: dt.datetime
    status: str
    mute_type: str


@dataclass
class BacktestTransition:
    timestamp: float
    old: str
    new: str
    reason: str


@dataclass
class TickReport:
    evaluated: int = 0
    transitions: int = 0
    notifications: int = 0
    queries: int = 0
    seconds: float = 0.0
    # Alarm name -> (reason, message) for the alarms this tick could not evaluate.
    failed: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def errors(self) -> dict[str, int]:
        """Failed evaluations by reason (``query``, ``math``, ``evaluate``)."""
        out: dict[str, int] = {}
        for reason, _ in self.failed.values():
            out[reason] = out.get(reason, 0) + 1
        return out


# ---------------------------------------------------------------- log alarms


@dataclass(frozen=True)
class LogAlarmDefinition:
    """An alarm on a Logs Insights query (or a filter pattern's match count) over log groups.

    Every ``every`` seconds the query runs over the last ``window`` seconds; each result row
    whose ``column`` compares to ``threshold`` with ``comparison_operator`` breaches. With
    ``group_by`` each distinct key (an IP, a user) has its own state; without it the alarm has
    one key. ``alarm`` actions may include ``block-ip:<duration>``, which blocks the key's
    ``ip_column`` value for that long. ``None`` means "not given" (defaults apply).
    """

    name: str
    log_group_names: tuple[str, ...] = ()
    query: str | None = None
    filter_pattern: str | None = None
    every: int | None = None
    window: int | None = None
    column: str | None = None
    threshold: float | None = None
    comparison_operator: str | None = None
    group_by: tuple[str, ...] = ()
    top_rows: int | None = None
    ip_column: str | None = None
    description: str | None = None
    actions_enabled: bool = True
    actions: Actions = Actions()
    tags: tuple[Tag, ...] = ()


@dataclass
class LogAlarmKey:
    """The state of one key of a log alarm that is in ALARM."""

    alarm_name: str
    key: str
    state: str
    value: float | None
    row: dict[str, Any]
    since: float
    updated_at: float


@dataclass
class LogBacktestItem:
    """One key's transition in a log alarm backtest."""

    timestamp: float
    key: str
    old: str
    new: str
    value: float | None

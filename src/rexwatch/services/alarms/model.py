"""Typed inputs and outputs of the alarms service."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


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
    name: str
    arn: str
    kind: str  # metric | composite
    description: str | None
    namespace: str | None
    metric_name: str | None
    dimensions: list[dict[str, str]]
    config: dict[str, Any]
    actions_enabled: bool
    alarm_actions: list[str]
    ok_actions: list[str]
    insufficient_data_actions: list[str]
    tags: list[dict[str, str]]
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
    muted_by: list[str] = field(default_factory=list)
    id: int = 0

    def actions_for(self, state: str) -> list[str]:
        return {
            "ALARM": self.alarm_actions,
            "OK": self.ok_actions,
            "INSUFFICIENT_DATA": self.insufficient_data_actions,
        }[state]


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
    tags: list[dict[str, str]]
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

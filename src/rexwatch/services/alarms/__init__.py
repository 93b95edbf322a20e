"""Alarms: CloudWatch metric and composite alarms, their evaluation and history (see service.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rexwatch.services.alarms.model import (
    Actions,
    Alarm,
    AlarmDefinition,
    CompositeAlarmDefinition,
    Dimension,
    MetricQuery,
    MetricStat,
    MuteRuleDefinition,
    Tag,
)

if TYPE_CHECKING:
    from rexwatch.services.alarms.service import AlarmsService

__all__ = [
    "Actions",
    "Alarm",
    "AlarmDefinition",
    "AlarmsService",
    "CompositeAlarmDefinition",
    "Dimension",
    "MetricQuery",
    "MetricStat",
    "MuteRuleDefinition",
    "Tag",
]


def __getattr__(name: str) -> Any:
    # Loaded on first use: the control-store modules import this package's model, and
    # the service imports them.
    if name == "AlarmsService":
        from rexwatch.services.alarms.service import AlarmsService

        return AlarmsService
    raise AttributeError(name)

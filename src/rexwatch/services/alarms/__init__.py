"""Alarms: CloudWatch metric and composite alarms, their evaluation and history."""

from rexwatch.services.alarms.service import AlarmsService

__all__ = ["AlarmsService"]

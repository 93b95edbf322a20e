"""The JSON message CloudWatch publishes to SNS topics when an alarm changes state."""

from __future__ import annotations

import json
from typing import Any

from rexwatch.regions import long_name as region_name
from rexwatch.services.alarms.evaluate import iso_millis
from rexwatch.stores.control.alarms_repo import metrics_to_json

SUBJECT_LIMIT = 100  # SNS subjects are at most 100 characters


def subject(state: str, alarm_name: str, region: str) -> str:
    text = f'{state}: "{alarm_name}" in {region_name(region)}'
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def alarm_message(
    *,
    alarm: Any,
    account_id: str,
    region: str,
    old_state: str,
    new_state: str,
    reason: str,
    change_time: float,
    triggering_children: list[dict] | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    """CloudWatch's alarm notification JSON for ``alarm`` (a service ``Alarm``)."""
    msg: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": iso_millis(alarm.config_updated_at.timestamp()),
        "NewStateValue": new_state,
        "NewStateReason": reason,
        "StateChangeTime": iso_millis(change_time),
        "Region": region_name(region),
        "AlarmArn": alarm.arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
    }
    if alarm.kind == "log":
        return json.dumps({**msg, **log_trigger(alarm), **(details or {})}, separators=(",", ":"))
    if alarm.kind == "composite":
        msg["AlarmRule"] = alarm.config.get("alarm_rule")
        msg["TriggeringChildren"] = triggering_children or []
        return json.dumps(msg, separators=(",", ":"))
    c = alarm.config
    trigger: dict[str, Any] = {}
    if c.get("math"):
        trigger["Metrics"] = metrics_to_json(c.get("metrics") or ())
    else:
        trigger["MetricName"] = alarm.metric_name
        trigger["Namespace"] = alarm.namespace
    if c.get("math"):
        pass
    elif c.get("extended_statistic"):
        trigger["StatisticType"] = "ExtendedStatistic"
        trigger["ExtendedStatistic"] = c["extended_statistic"]
    else:
        trigger["StatisticType"] = "Statistic"
        trigger["Statistic"] = (c.get("statistic") or "").upper()
    if not c.get("math"):
        trigger["Unit"] = c.get("unit")
        trigger["Dimensions"] = [{"value": d.value, "name": d.name} for d in alarm.dimensions]
    trigger["Period"] = c.get("period")
    trigger["EvaluationPeriods"] = c.get("evaluation_periods")
    if c.get("datapoints_to_alarm"):
        trigger["DatapointsToAlarm"] = c["datapoints_to_alarm"]
    trigger["ComparisonOperator"] = c.get("comparison_operator")
    trigger["Threshold"] = float(c["threshold"]) if c.get("threshold") is not None else None
    trigger["TreatMissingData"] = c.get("treat_missing_data") or "missing"
    trigger["EvaluateLowSampleCountPercentile"] = c.get("evaluate_low_sample_count_percentile") or ""
    msg["Trigger"] = trigger
    return json.dumps(msg, separators=(",", ":"))


def log_trigger(alarm: Any) -> dict[str, Any]:
    """The ``AlarmType`` and ``Trigger`` of a log alarm's message (rexwatch's own shape)."""
    c = alarm.config
    trigger: dict[str, Any] = {"LogGroupNames": list(c.get("log_group_names") or [])}
    if c.get("query") is not None:
        trigger["QueryString"] = c["query"]
    else:
        trigger["FilterPattern"] = c.get("filter_pattern")
    trigger.update(
        EvaluationInterval=c.get("every"),
        QueryWindow=c.get("window"),
        ValueColumn=c.get("column"),
        GroupBy=list(c.get("group_by") or []),
        ComparisonOperator=c.get("comparison_operator"),
        Threshold=c.get("threshold"),
    )
    return {"AlarmType": "LogAlarm", "Trigger": trigger}

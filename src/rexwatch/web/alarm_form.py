"""The console's "Create alarm" forms: a metric alarm (on the alarms page, and from a graph in the
metrics explorer, the same form with the metric fixed) and a composite alarm.

The form's text becomes an ``AlarmDefinition`` / ``CompositeAlarmDefinition`` and goes to the alarms
service's PutMetricAlarm / PutCompositeAlarm, which validate it; only turning text into numbers
happens here, with the service's wording. An error names a PutMetricAlarm parameter
(``Threshold``, ``Period``...); ``FORM_FIELD`` maps it onto the form's input, so the page shows the
message next to that input.
"""

from __future__ import annotations

import json
from typing import Any

from rexwatch.errors import Invalid, NotFound, RexwatchError
from rexwatch.services.alarms import AlarmsService
from rexwatch.services.alarms.model import Actions, AlarmDefinition, CompositeAlarmDefinition, Dimension

OPERATORS = (
    ("GreaterThanThreshold", ">"),
    ("GreaterThanOrEqualToThreshold", ">="),
    ("LessThanThreshold", "<"),
    ("LessThanOrEqualToThreshold", "<="),
)
STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount", "p50", "p90", "p95", "p99")
MISSING = ("missing", "notBreaching", "breaching", "ignore")

# PutMetricAlarm / PutCompositeAlarm parameter -> the form input it is about.
FORM_FIELD = {
    "AlarmName": "name",
    "Namespace": "namespace",
    "MetricName": "metric",
    "Dimensions": "dimensions",
    "Statistic": "stat",
    "ExtendedStatistic": "stat",
    "Unit": "stat",
    "Period": "period",
    "EvaluationPeriods": "evaluation_periods",
    "DatapointsToAlarm": "datapoints_to_alarm",
    "Threshold": "threshold",
    "ComparisonOperator": "op",
    "TreatMissingData": "treat_missing_data",
    "AlarmDescription": "description",
    "AlarmActions": "topic",
    "OKActions": "topic",
    "InsufficientDataActions": "topic",
    "AlarmRule": "rule",
    "Metrics": "metric",
}
METRIC_FIELDS = (
    "name",
    "namespace",
    "metric",
    "dimensions",
    "stat",
    "period",
    "op",
    "threshold",
    "evaluation_periods",
    "datapoints_to_alarm",
    "treat_missing_data",
    "topic",
    "description",
)
COMPOSITE_FIELDS = ("name", "rule", "topic", "description")


def empty_form(kind: str = "metric", **values: str) -> dict[str, Any]:
    """A form's state for the template: what was typed (``v``) and the error, if any."""
    return {"kind": kind, "v": dict(values), "field": None, "message": None}


def failed_form(kind: str, fields: dict[str, str], e: RexwatchError) -> dict[str, Any]:
    names = METRIC_FIELDS if kind == "metric" else COMPOSITE_FIELDS
    keep = {k: fields.get(k, "")[:2048] for k in (*names, "m")}
    param = e.field_path[0] if e.field_path else None
    field = FORM_FIELD.get(param, param) if isinstance(param, str) else None
    return {"kind": kind, "v": keep, "field": field if field in names else None, "message": e.message}


def _int(text: str, param: str, default: int | None = None) -> int | None:
    text = text.strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise Invalid(f"{param} must be a whole number", field=param)


def _threshold(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise Invalid("Threshold must be a number", field="Threshold")


def _dimensions(text: str) -> tuple[Dimension, ...]:
    """``Name=Value`` pairs, one a line or separated by commas."""
    out = []
    for part in text.replace("\n", ",").split(","):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        if not eq or not name.strip():
            raise Invalid(f"a dimension is Name=Value, not {part.strip()[:80]!r}", field="Dimensions")
        out.append(Dimension(name.strip(), value.strip()))
    return tuple(out)


def _graphed_metric(raw: str) -> tuple[str, str, tuple[Dimension, ...]]:
    """The explorer's series (``["namespace", "metric", [[name, value], ...]]``)."""
    try:
        ns, metric, dims = json.loads(raw)
        return str(ns), str(metric), tuple(Dimension(str(k), str(v)) for k, v in dims)
    except (ValueError, TypeError):
        raise Invalid(
            "the graphed series is not a metric: graph one metric and try again", field="MetricName"
        )


def _actions(fields: dict[str, str]) -> Actions:
    topic = fields.get("topic", "").strip()
    return Actions(alarm=(topic,), ok=(topic,)) if topic else Actions()


def _refuse_existing(svc: AlarmsService, name: str) -> None:
    try:
        svc.get(name)
    except NotFound:
        return
    raise Invalid(f"an alarm named {name!r} exists already: choose another name", field="AlarmName")


def metric_definition(fields: dict[str, str]) -> AlarmDefinition:
    """The form as PutMetricAlarm's input; ``m`` (a graphed series) stands for namespace, metric and
    dimensions when the form comes from the explorer."""
    if fields.get("m"):
        ns, metric, dims = _graphed_metric(fields["m"])
    else:
        ns, metric = fields.get("namespace", "").strip(), fields.get("metric", "").strip()
        dims = _dimensions(fields.get("dimensions", ""))
    stat = fields.get("stat", "").strip() or "Average"
    percentile = stat[:1] in ("p", "P") and stat[1:2].isdigit()
    return AlarmDefinition(
        name=fields.get("name", "").strip(),
        namespace=ns or None,
        metric_name=metric or None,
        dimensions=dims,
        statistic=None if percentile else stat,
        extended_statistic=stat if percentile else None,
        period=_int(fields.get("period", ""), "Period", 60),
        evaluation_periods=_int(fields.get("evaluation_periods", ""), "EvaluationPeriods", 1),
        datapoints_to_alarm=_int(fields.get("datapoints_to_alarm", ""), "DatapointsToAlarm"),
        threshold=_threshold(fields.get("threshold", "")),
        comparison_operator=fields.get("op", ""),
        treat_missing_data=fields.get("treat_missing_data") or None,
        description=fields.get("description", "").strip() or None,
        actions=_actions(fields),
    )


def create_metric_alarm(svc: AlarmsService, fields: dict[str, str]) -> str:
    """PutMetricAlarm from the form, refusing to replace an alarm of the same name."""
    d = metric_definition(fields)
    _refuse_existing(svc, d.name)
    svc.put_metric_alarm(d)
    return d.name


def create_composite_alarm(svc: AlarmsService, fields: dict[str, str]) -> str:
    """PutCompositeAlarm from the form (its rule names alarms that exist), refusing to replace one."""
    d = CompositeAlarmDefinition(
        name=fields.get("name", "").strip(),
        alarm_rule=fields.get("rule", "").strip() or None,
        description=fields.get("description", "").strip() or None,
        actions=_actions(fields),
    )
    _refuse_existing(svc, d.name)
    svc.put_composite_alarm(d)
    return d.name

"""The console's alarm forms: a metric alarm (created on the alarms page, or from a graph in the
metrics explorer, the same form with the metric fixed) and a composite alarm; an alarm's page edits
it in the same form, prefilled from the alarm, with its name fixed.

The form's text becomes an ``AlarmDefinition`` / ``CompositeAlarmDefinition`` and goes to the alarms
service's PutMetricAlarm / PutCompositeAlarm, which validate it; only turning text into numbers
happens here, with the service's wording. An edit keeps what the form does not show (the unit,
tags, whether actions are enabled, INSUFFICIENT_DATA actions, a composite's actions suppressor). An error names a PutMetricAlarm parameter
(``Threshold``, ``Period``...); ``FORM_FIELD`` maps it onto the form's input, so the page shows the
message next to that input.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from rexwatch.errors import Invalid, NotFound, RexwatchError
from rexwatch.services.alarms import AlarmsService
from rexwatch.services.alarms.model import (
    Actions,
    Alarm,
    AlarmDefinition,
    CompositeAlarmDefinition,
    Dimension,
)

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


def _topics(fields: dict[str, str]) -> tuple[str, ...]:
    """The topic ARNs typed (separated by spaces or commas; an ARN holds neither), each once."""
    return tuple(dict.fromkeys(fields.get("topic", "").replace(",", " ").split()))


def _actions(fields: dict[str, str]) -> Actions:
    topics = _topics(fields)
    return Actions(alarm=topics, ok=topics)


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


# Editing ------------------------------------------------------------------------------------------


def editable(a: Alarm) -> bool:
    """The forms show a composite alarm and an alarm on one metric; metric math and log alarms stay
    with the CLI and the API."""
    return a.kind == "composite" or (a.kind == "metric" and not a.config.get("metrics") and bool(a.metric_name))


def _number(x: Any) -> str:
    if x is None:
        return ""
    f = float(x)
    return str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f)


def _one_topic_list(a: Alarm) -> bool:
    """Whether the form's one list of topics (ALARM and OK actions) can show the alarm's actions."""
    return list(a.alarm_actions) == list(a.ok_actions)


def _action_values(a: Alarm) -> dict[str, Any]:
    if _one_topic_list(a):
        return {"topic": " ".join(a.alarm_actions)}
    return {"kept_actions": True, "alarm_actions": ", ".join(a.alarm_actions), "ok_actions": ", ".join(a.ok_actions)}


def _plain_dimensions(a: Alarm) -> bool:
    """Whether ``Name=Value, ...`` text gives the alarm's dimensions back unchanged."""
    return all("," not in d.name + d.value and "=" not in d.name and d.name.strip() == d.name
               and d.value.strip() == d.value for d in a.dimensions)


def _metric_json(a: Alarm) -> str:
    return json.dumps([a.namespace or "", a.metric_name or "", [[d.name, d.value] for d in a.dimensions]])


def edit_form(a: Alarm) -> dict[str, Any]:
    """The alarm as the create form's state, to edit it (see ``editable``)."""
    c = a.config
    values: dict[str, Any] = {"name": a.name, "description": a.description or "", **_action_values(a)}
    if a.kind == "composite":
        values["rule"] = c.get("alarm_rule") or ""
        return {"kind": "composite", "v": values, "field": None, "message": None}
    if _plain_dimensions(a):
        values.update(namespace=a.namespace or "", metric=a.metric_name or "",
                      dimensions=", ".join(f"{d.name}={d.value}" for d in a.dimensions))
    else:  # a value holding a comma: the metric stays as it is, like a graphed one
        values["m"] = _metric_json(a)
    values.update(
        stat=c.get("extended_statistic") or c.get("statistic") or "Average",
        period=_number(c.get("period")),
        op=c.get("comparison_operator") or "",
        threshold=_number(c.get("threshold")),
        evaluation_periods=_number(c.get("evaluation_periods")),
        datapoints_to_alarm=_number(c.get("datapoints_to_alarm")),
        treat_missing_data=c.get("treat_missing_data") or "missing",
    )
    return {"kind": "metric", "v": values, "field": None, "message": None}


def failed_edit_form(a: Alarm, fields: dict[str, str], e: RexwatchError) -> dict[str, Any]:
    """The edit form as typed, with the service's message; the name and kept actions are the alarm's."""
    form = failed_form(a.kind, fields, e)
    form["v"]["name"] = a.name
    if not _one_topic_list(a):
        form["v"].update(_action_values(a))
    return form


def _edited_actions(a: Alarm, fields: dict[str, str]) -> Actions:
    kept = tuple(a.insufficient_data_actions)
    if not _one_topic_list(a):
        return Actions(tuple(a.alarm_actions), tuple(a.ok_actions), kept)
    topics = _topics(fields)
    return Actions(topics, topics, kept)


def edit_alarm(svc: AlarmsService, fields: dict[str, str]) -> str:
    """PutMetricAlarm / PutCompositeAlarm with the edited form over the named alarm, which must exist."""
    a = svc.get(fields.get("name", ""))
    if not editable(a):
        raise Invalid("this alarm uses metric math or log queries, which this form does not show: "
                      "change it with the CLI or the API", field="AlarmName")
    if a.kind == "composite":
        c = a.config
        svc.put_composite_alarm(CompositeAlarmDefinition(
            name=a.name, alarm_rule=fields.get("rule", "").strip() or None,
            description=fields.get("description", "").strip() or None, actions_enabled=a.actions_enabled,
            actions=_edited_actions(a, fields), actions_suppressor=c.get("actions_suppressor"),
            actions_suppressor_wait_period=c.get("actions_suppressor_wait_period"),
            actions_suppressor_extension_period=c.get("actions_suppressor_extension_period"), tags=tuple(a.tags)))
        return a.name
    # The metric is typed, unless the alarm's dimensions cannot be written as text: then it stays.
    metric = "" if _plain_dimensions(a) else _metric_json(a)
    d = metric_definition({**fields, "m": metric})
    svc.put_metric_alarm(dataclasses.replace(
        d, name=a.name, unit=a.config.get("unit"),
        evaluate_low_sample_count_percentile=a.config.get("evaluate_low_sample_count_percentile"),
        actions_enabled=a.actions_enabled, actions=_edited_actions(a, fields), tags=tuple(a.tags)))
    return a.name

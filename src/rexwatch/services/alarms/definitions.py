"""Alarm definitions: validation of what a client asks for, and the views evaluation needs.

Pure functions: a typed ``AlarmDefinition`` / ``CompositeAlarmDefinition`` in,
an ``AlarmRecord`` (what the store keeps) out, or a domain error naming the
field. No store, no clock.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rexwatch.errors import Invalid, LimitExceeded, QueryError
from rexwatch.lang.alarmrule import alarm_name_of, compile_rule
from rexwatch.services.alarms import evaluate as ev
from rexwatch.services.alarms.model import (
    Actions,
    Alarm,
    AlarmDefinition,
    AlarmRecord,
    CompositeAlarmDefinition,
    Dimension,
    DueAlarm,
    MetricQuery,
    StatQuery,
    Tag,
)
from rexwatch.services.notify.arns import resolve_account

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
ANOMALY_OPERATORS = (
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
)
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
ALARM_TYPES = {"MetricAlarm": "metric", "CompositeAlarm": "composite"}
MAX_ACTIONS = 5
MAX_DIMENSIONS = 30
MAX_METRICS = 10
MAX_TAGS = 50
_METRIC_ID = re.compile(r"[a-z][a-zA-Z0-9_]*")


def check_name(name: Any, field: str = "AlarmName") -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise Invalid(f"{field} must be 1 to 255 characters", field=field)
    return name


def check_actions(actions: Actions, account: str | None = None) -> Actions:
    """Checks each action ARN; with ``account``, the runbook's literal ``ACCOUNT`` placeholder is
    stored as that account id (and any other non-numeric account is refused, as AWS does)."""
    resolved: dict[str, tuple[str, ...]] = {}
    for key, acts in (
        ("AlarmActions", actions.alarm),
        ("OKActions", actions.ok),
        ("InsufficientDataActions", actions.insufficient_data),
    ):
        if len(acts) > MAX_ACTIONS:
            raise LimitExceeded(f"{key} accepts at most {MAX_ACTIONS} actions", field=key)
        for a in acts:
            if not isinstance(a, str) or not a.startswith("arn:aws:sns:") or a.count(":") != 5:
                raise Invalid(
                    f"{key}: {a!r} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>); "
                    "rexwatch supports SNS topic actions",
                    field=key,
                )
        resolved[key] = tuple(resolve_account(a, account, key) for a in acts) if account else tuple(acts)
    return dataclasses.replace(
        actions, alarm=resolved["AlarmActions"], ok=resolved["OKActions"],
        insufficient_data=resolved["InsufficientDataActions"],
    )


def check_tags(tags: Iterable[Tag]) -> list[Tag]:
    out = list(tags)
    for t in out:
        if not t.key or len(t.key) > 128 or len(t.value or "") > 256:
            raise Invalid("each tag needs a Key (1-128 characters) and a Value up to 256", field="Tags")
    return out


def _number(v: Any, name: str) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise Invalid(f"{name} must be a number", field=name)
    if math.isnan(f) or math.isinf(f):
        raise Invalid(f"{name} must be a finite number", field=name)
    return f


def _check_statistic(stat: str | None, ext: str | None) -> None:
    if stat and stat not in STATISTICS:
        raise Invalid(f"Statistic must be one of {', '.join(STATISTICS)}", field="Statistic")
    if ext is not None and not (
        ext.startswith("p") and ext[1:].isascii() and ext[1:].replace(".", "", 1).isdigit() and 0 <= float(ext[1:]) <= 100
    ):
        raise Invalid(f"ExtendedStatistic {ext!r} must be a percentile p0.0-p100", field="ExtendedStatistic")


def _check_dimensions(dims: Sequence[Dimension]) -> list[Dimension]:
    if len(dims) > MAX_DIMENSIONS:
        raise LimitExceeded(f"at most {MAX_DIMENSIONS} dimensions", field="Dimensions")
    for d in dims:
        if not d.name or d.value is None:
            raise Invalid("each dimension needs Name and Value", field="Dimensions")
    return [Dimension(d.name, str(d.value)) for d in dims]


def _threshold_config(d: AlarmDefinition, period: Any, *, percentile: bool) -> dict[str, Any]:
    """The rules every metric alarm shares: period, N and M, threshold, operator, missing data."""
    if period is None:
        raise Invalid("Period is required", field="Period")
    period = int(period)
    if period not in (10, 20, 30) and (period < 60 or period % 60):
        raise Invalid("Period must be 10, 20, 30 or a multiple of 60", field="Period")
    n = d.evaluation_periods
    if n is None or int(n) < 1:
        raise Invalid("EvaluationPeriods must be at least 1", field="EvaluationPeriods")
    n = int(n)
    if period * n > 7 * 86400:
        raise Invalid("Period * EvaluationPeriods must not exceed 7 days", field="EvaluationPeriods")
    m = d.datapoints_to_alarm
    if m is not None and not 1 <= int(m) <= n:
        raise Invalid("DatapointsToAlarm must be between 1 and EvaluationPeriods", field="DatapointsToAlarm")
    op = d.comparison_operator
    if op in ANOMALY_OPERATORS:
        raise Invalid(
            f"{op} needs anomaly detection, which rexwatch does not support yet", field="ComparisonOperator"
        )
    if op not in ev.THRESHOLD_OPERATORS:
        raise Invalid(
            f"ComparisonOperator must be one of {', '.join(sorted(ev.THRESHOLD_OPERATORS))}",
            field="ComparisonOperator",
        )
    if d.threshold is None:
        raise Invalid("Threshold is required", field="Threshold")
    tmd = d.treat_missing_data
    if tmd is not None and tmd not in ev.TREAT_MISSING:
        raise Invalid(
            f"TreatMissingData must be one of {', '.join(ev.TREAT_MISSING)}", field="TreatMissingData"
        )
    lsc = d.evaluate_low_sample_count_percentile
    if lsc:
        if lsc not in ("evaluate", "ignore"):
            raise Invalid(
                "EvaluateLowSampleCountPercentile must be evaluate or ignore",
                field="EvaluateLowSampleCountPercentile",
            )
        if not percentile:
            raise Invalid(
                "EvaluateLowSampleCountPercentile applies only to percentile ExtendedStatistic",
                field="EvaluateLowSampleCountPercentile",
            )
    return {
        "period": period,
        "evaluation_periods": n,
        "datapoints_to_alarm": int(m) if m is not None else None,
        "threshold": _number(d.threshold, "Threshold"),
        "comparison_operator": op,
        "treat_missing_data": tmd,
        "evaluate_low_sample_count_percentile": lsc,
    }


def _check_unit(unit: str | None) -> None:
    if unit is not None:
        from rexwatch.services.metrics.model import UNITS

        if unit not in UNITS:
            raise Invalid(f"The value {unit} for parameter Unit is invalid.", field="Unit")


def validate_metric_alarm(d: AlarmDefinition, account: str | None = None) -> AlarmRecord:
    """PutMetricAlarm's rules. The record keeps the definition in the store's form."""
    check_name(d.name)
    if d.description is not None and len(d.description) > 1024:
        raise Invalid("AlarmDescription is at most 1024 characters", field="AlarmDescription")
    stat, ext = d.statistic, d.extended_statistic
    if d.metrics:
        if d.metric_name or d.namespace or stat or ext:
            raise Invalid(
                "Metrics cannot be combined with MetricName, Namespace, Statistic or ExtendedStatistic",
                field="Metrics",
            )
        returned = [m for m in d.metrics if m.return_data]
        if len(returned) != 1:
            raise Invalid("exactly one entry of Metrics must have ReturnData true", field="Metrics")
        if returned[0].expression is not None:
            cfg = _math_config(d, returned[0])
            return _record(d, "metric", None, None, [], cfg, account)
        if returned[0].metric_stat is None:
            raise Invalid("each entry of Metrics needs MetricStat or Expression", field="Metrics")
        ms = returned[0].metric_stat
        namespace, metric_name, dims = ms.namespace, ms.metric_name, ms.dimensions
        stat, ext = (ms.stat, None) if ms.stat in STATISTICS else (None, ms.stat)
        period, unit = ms.period, ms.unit
    else:
        namespace, metric_name, dims = d.namespace, d.metric_name, d.dimensions
        period, unit = d.period, d.unit
        if not namespace or not metric_name:
            raise Invalid("MetricName and Namespace are required (or Metrics)", field="MetricName")
        if bool(stat) == bool(ext):
            raise Invalid("exactly one of Statistic or ExtendedStatistic is required", field="Statistic")
    _check_statistic(stat, ext)
    _check_unit(unit)
    dims = _check_dimensions(dims)
    cfg = {
        "statistic": stat,
        "extended_statistic": ext,
        "unit": unit,
        **_threshold_config(d, period, percentile=bool(ext)),
        "metrics": d.metrics or None,
    }
    return _record(d, "metric", namespace, metric_name, dims, _ordered(cfg), account)


def _ordered(cfg: dict[str, Any]) -> dict[str, Any]:
    # The stored key order (history's ConfigurationUpdate lists fields in it).
    keys = (
        "statistic",
        "extended_statistic",
        "period",
        "unit",
        "evaluation_periods",
        "datapoints_to_alarm",
        "threshold",
        "comparison_operator",
        "treat_missing_data",
        "evaluate_low_sample_count_percentile",
        "metrics",
        "math",
    )
    return {k: cfg[k] for k in keys if k in cfg}


def _math_config(d: AlarmDefinition, returned: MetricQuery) -> dict[str, Any]:
    """An alarm on a metric math expression: its MetricStat leaves join the tick's batch."""
    from rexwatch.lang.mathexpr import parse
    from rexwatch.services.metrics.matheval import KEYWORDS

    metrics = d.metrics
    ids = [m.id for m in metrics]
    if len(set(ids)) != len(ids):
        raise Invalid("Metrics entries need distinct Ids", field="Metrics")
    if len(metrics) > MAX_METRICS:
        raise LimitExceeded(f"an alarm's Metrics holds at most {MAX_METRICS} entries", field="Metrics")
    first_period = None
    for m in metrics:
        if not isinstance(m.id, str) or not _METRIC_ID.fullmatch(m.id):
            raise Invalid(f"Metrics Id {m.id!r} must start with a lower-case letter", field="Metrics")
        if (m.metric_stat is None) == (m.expression is None):
            raise Invalid(
                f"Metrics entry {m.id} needs exactly one of MetricStat or Expression", field="Metrics"
            )
        if m.expression is not None:
            try:
                refs = _references(parse(m.expression)) - KEYWORDS
            except QueryError as e:
                raise Invalid(f"Error in expression {m.id}: {e.message}", field="Metrics")
            unknown = sorted(r for r in refs if r not in ids and r[:1].islower())
            if unknown:
                raise Invalid(
                    f"Error in expression {m.id}: unknown metric or expression id {unknown[0]!r}",
                    field="Metrics",
                )
        elif first_period is None:
            first_period = m.metric_stat.period if m.metric_stat else None
    cfg = {
        "statistic": None,
        "extended_statistic": None,
        "unit": d.unit,
        **_threshold_config(d, returned.period or first_period, percentile=False),
        "metrics": tuple(metrics),
        "math": True,
    }
    _check_unit(d.unit)
    return _ordered(cfg)


def _references(node: Any) -> set[str]:
    """Identifiers (metric or expression ids) a parsed metric math expression refers to."""
    import dataclasses

    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list | tuple):
            stack.extend(n)
        elif dataclasses.is_dataclass(n) and not isinstance(n, type):
            if type(n).__name__ == "Ref":
                out.add(n.name)
            stack.extend(getattr(n, f.name) for f in dataclasses.fields(n))
    return out


def _record(
    d: AlarmDefinition | CompositeAlarmDefinition,
    kind: str,
    namespace: str | None,
    metric_name: str | None,
    dims: list[Dimension],
    cfg: dict[str, Any],
    account: str | None,
) -> AlarmRecord:
    return AlarmRecord(
        name=d.name,
        kind=kind,
        description=d.description,
        namespace=namespace,
        metric_name=metric_name,
        dimensions=dims,
        config=cfg,
        actions_enabled=bool(d.actions_enabled),
        actions=check_actions(d.actions, account),
        tags=check_tags(d.tags),
    )


def validate_composite_alarm(d: CompositeAlarmDefinition, account: str | None = None) -> AlarmRecord:
    """PutCompositeAlarm's own rules (that the children exist is checked against the store)."""
    name = check_name(d.name)
    if not d.alarm_rule:
        raise Invalid("AlarmRule is required", field="AlarmRule")
    rule = compile_rule(d.alarm_rule)
    children = [alarm_name_of(c) for c in rule.alarms]
    if name in children:
        raise Invalid(f"AlarmRule refers to the alarm itself ({name})", field="AlarmRule")
    cfg = {
        "alarm_rule": d.alarm_rule,
        "children": children,
        "actions_suppressor": d.actions_suppressor,
        "actions_suppressor_wait_period": d.actions_suppressor_wait_period,
        "actions_suppressor_extension_period": d.actions_suppressor_extension_period,
    }
    return _record(d, "composite", None, None, [], cfg, account)


def alarm_kinds(types: Sequence[str] | None, default: Sequence[str] = ("MetricAlarm",)) -> list[str]:
    """AlarmTypes -> the kinds the store keeps (CloudWatch lists metric alarms by default)."""
    out = []
    for t in types or default:
        if t not in ALARM_TYPES:
            raise Invalid("AlarmTypes entries are MetricAlarm or CompositeAlarm", field="AlarmTypes")
        out.append(ALARM_TYPES[t])
    return out


# ---------------------------------------------------------------- views for evaluation


def eval_config(a: Alarm | DueAlarm) -> ev.AlarmConfig:
    c = a.config
    return ev.AlarmConfig(
        period=c["period"],
        evaluation_periods=c["evaluation_periods"],
        threshold=c["threshold"],
        comparison_operator=c["comparison_operator"],
        datapoints_to_alarm=c.get("datapoints_to_alarm"),
        treat_missing_data=c.get("treat_missing_data") or "missing",
        statistic=c.get("statistic"),
        extended_statistic=c.get("extended_statistic"),
        evaluate_low_sample_count_percentile=c.get("evaluate_low_sample_count_percentile"),
    )


def stat_query(a: Alarm | DueAlarm) -> StatQuery:
    c = a.config
    return StatQuery(
        namespace=a.namespace or "",
        metric_name=a.metric_name or "",
        dimensions=tuple(sorted((d.name, d.value) for d in a.dimensions)),
        statistic=c.get("extended_statistic") or c.get("statistic") or "Average",
        period=c["period"],
        unit=c.get("unit"),
    )


def cadence(a: Alarm | DueAlarm) -> int:
    """Seconds between evaluations: CloudWatch evaluates every minute (every period for
    high-resolution periods)."""
    return min(a.config.get("period") or 60, 60)


def next_evaluation(a: Alarm | DueAlarm, now: float) -> float:
    step = cadence(a)
    return (math.floor(now / step) + 1) * step

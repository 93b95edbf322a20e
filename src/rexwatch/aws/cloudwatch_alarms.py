"""CloudWatch alarm operations over the AWS wire protocols (CBOR, JSON 1.0, query).

Handlers convert botocore's shapes to the alarms service's domain objects
(``AlarmDefinition``, ``CompositeAlarmDefinition``, ``MuteRuleDefinition``) and
render its ``Alarm``/``MuteRule``/``HistoryItem`` results back into them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rexwatch.aws.registry import AwsContext, handler
from rexwatch.errors import Invalid
from rexwatch.services.alarms import (
    Actions,
    AlarmDefinition,
    AlarmsService,
    CompositeAlarmDefinition,
    Dimension,
    MetricQuery,
    MuteRuleDefinition,
    Tag,
)
from rexwatch.services.alarms.model import Alarm, MuteRule, metric_queries_from_aws


def _svc(ctx: AwsContext) -> AlarmsService:
    return ctx.runtime.service(AlarmsService)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# ---------------------------------------------------------------- wire -> domain


def _dims_in(raw: Iterable[dict[str, Any]] | None) -> tuple[Dimension, ...]:
    return tuple(Dimension(d.get("Name") or "", d.get("Value")) for d in raw or [])


def _tags_in(raw: Iterable[dict[str, Any]] | None) -> tuple[Tag, ...]:
    return tuple(Tag(t.get("Key") or "", t.get("Value") or "") for t in raw or [])


def _actions_in(p: dict[str, Any]) -> Actions:
    return Actions(
        tuple(p.get("AlarmActions") or ()),
        tuple(p.get("OKActions") or ()),
        tuple(p.get("InsufficientDataActions") or ()),
    )


def _metrics_in(raw: Iterable[dict[str, Any]] | None) -> tuple[MetricQuery, ...]:
    return metric_queries_from_aws(raw, _dims_in)


def metric_alarm_definition(p: dict[str, Any]) -> AlarmDefinition:
    """PutMetricAlarm's members as a domain definition."""
    return AlarmDefinition(
        name=p.get("AlarmName"),
        namespace=p.get("Namespace"),
        metric_name=p.get("MetricName"),
        dimensions=_dims_in(p.get("Dimensions")),
        statistic=p.get("Statistic"),
        extended_statistic=p.get("ExtendedStatistic"),
        period=p.get("Period"),
        unit=p.get("Unit"),
        evaluation_periods=p.get("EvaluationPeriods"),
        datapoints_to_alarm=p.get("DatapointsToAlarm"),
        threshold=p.get("Threshold"),
        comparison_operator=p.get("ComparisonOperator"),
        treat_missing_data=p.get("TreatMissingData"),
        evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
        metrics=_metrics_in(p.get("Metrics")),
        description=p.get("AlarmDescription"),
        actions_enabled=bool(p.get("ActionsEnabled", True)),
        actions=_actions_in(p),
        tags=_tags_in(p.get("Tags")),
    )


def composite_alarm_definition(p: dict[str, Any]) -> CompositeAlarmDefinition:
    """PutCompositeAlarm's members as a domain definition."""
    return CompositeAlarmDefinition(
        name=p.get("AlarmName"),
        alarm_rule=p.get("AlarmRule"),
        description=p.get("AlarmDescription"),
        actions_enabled=bool(p.get("ActionsEnabled", True)),
        actions=_actions_in(p),
        actions_suppressor=p.get("ActionsSuppressor"),
        actions_suppressor_wait_period=p.get("ActionsSuppressorWaitPeriod"),
        actions_suppressor_extension_period=p.get("ActionsSuppressorExtensionPeriod"),
        tags=_tags_in(p.get("Tags")),
    )


def mute_rule_definition(p: dict[str, Any]) -> MuteRuleDefinition:
    """PutAlarmMuteRule's members as a domain definition."""
    sched = (p.get("Rule") or {}).get("Schedule") or {}
    return MuteRuleDefinition(
        name=p.get("Name"),
        expression=sched.get("Expression") or "",
        duration=sched.get("Duration") or "",
        timezone=sched.get("Timezone"),
        alarm_names=tuple((p.get("MuteTargets") or {}).get("AlarmNames") or ()),
        description=p.get("Description"),
        start_date=p.get("StartDate"),
        expire_date=p.get("ExpireDate"),
        tags=_tags_in(p.get("Tags")),
    )


# ---------------------------------------------------------------- domain -> wire


def _dims_out(dims: Iterable[Dimension]) -> list[dict[str, str]]:
    return [{"Name": d.name, "Value": d.value} for d in dims]


def _tags_out(tags: Iterable[Tag]) -> list[dict[str, str]]:
    return [{"Key": t.key, "Value": t.value} for t in tags]


def metrics_out(metrics: Iterable[MetricQuery]) -> list[dict[str, Any]]:
    out = []
    for m in metrics:
        item: dict[str, Any] = {"Id": m.id}
        if m.metric_stat is not None:
            s = m.metric_stat
            metric = _drop_none({"Namespace": s.namespace, "MetricName": s.metric_name})
            if s.dimensions:
                metric["Dimensions"] = _dims_out(s.dimensions)
            item["MetricStat"] = _drop_none(
                {"Metric": metric, "Period": s.period, "Stat": s.stat, "Unit": s.unit}
            )
        item.update(_drop_none({"Expression": m.expression, "Label": m.label}))
        item["ReturnData"] = m.return_data
        if m.period is not None:
            item["Period"] = m.period
        out.append(item)
    return out


def metric_alarm_shape(a: Alarm) -> dict[str, Any]:
    c = a.config
    return _drop_none(
        {
            "AlarmName": a.name,
            "AlarmArn": a.arn,
            "AlarmDescription": a.description,
            "AlarmConfigurationUpdatedTimestamp": a.config_updated_at,
            "ActionsEnabled": a.actions_enabled,
            "OKActions": a.ok_actions,
            "AlarmActions": a.alarm_actions,
            "InsufficientDataActions": a.insufficient_data_actions,
            "StateValue": a.state_value,
            "StateReason": a.state_reason,
            "StateReasonData": a.state_reason_data,
            "StateUpdatedTimestamp": a.state_updated_at,
            "MetricName": a.metric_name if not c.get("metrics") else None,
            "Namespace": a.namespace if not c.get("metrics") else None,
            "Statistic": c.get("statistic") if not c.get("metrics") else None,
            "ExtendedStatistic": c.get("extended_statistic") if not c.get("metrics") else None,
            "Dimensions": _dims_out(a.dimensions) if not c.get("metrics") else None,
            "Period": c.get("period") if not c.get("metrics") else None,
            "Unit": c.get("unit"),
            "EvaluationPeriods": c.get("evaluation_periods"),
            "DatapointsToAlarm": c.get("datapoints_to_alarm"),
            "Threshold": c.get("threshold"),
            "ComparisonOperator": c.get("comparison_operator"),
            "TreatMissingData": c.get("treat_missing_data"),
            "EvaluateLowSampleCountPercentile": c.get("evaluate_low_sample_count_percentile"),
            "Metrics": metrics_out(c["metrics"]) if c.get("metrics") else None,
            "StateTransitionedTimestamp": a.state_transitioned_at,
        }
    )


def composite_alarm_shape(a: Alarm) -> dict[str, Any]:
    c = a.config
    out = _drop_none(
        {
            "ActionsEnabled": a.actions_enabled,
            "AlarmActions": a.alarm_actions,
            "AlarmArn": a.arn,
            "AlarmConfigurationUpdatedTimestamp": a.config_updated_at,
            "AlarmDescription": a.description,
            "AlarmName": a.name,
            "AlarmRule": c.get("alarm_rule"),
            "InsufficientDataActions": a.insufficient_data_actions,
            "OKActions": a.ok_actions,
            "StateReason": a.state_reason,
            "StateReasonData": a.state_reason_data,
            "StateUpdatedTimestamp": a.state_updated_at,
            "StateValue": a.state_value,
            "StateTransitionedTimestamp": a.state_transitioned_at,
            "ActionsSuppressor": c.get("actions_suppressor"),
            "ActionsSuppressorWaitPeriod": c.get("actions_suppressor_wait_period"),
            "ActionsSuppressorExtensionPeriod": c.get("actions_suppressor_extension_period"),
        }
    )
    if a.muted_by:
        out["ActionsSuppressedBy"] = "Alarm"
        out["ActionsSuppressedReason"] = f"muted by {', '.join(a.muted_by)}"
    return out


@handler("cloudwatch", "PutMetricAlarm")
def put_metric_alarm(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("ThresholdMetricId"):
        raise Invalid(
            "ThresholdMetricId needs anomaly detection, which rexwatch does not support yet",
            field="ThresholdMetricId",
        )
    if params.get("EvaluationCriteria"):
        raise Invalid(
            "EvaluationCriteria (PromQL alarms) is not supported; use a metric alarm",
            field="EvaluationCriteria",
        )
    _svc(ctx).put_metric_alarm(metric_alarm_definition(params))
    return {}


@handler("cloudwatch", "PutCompositeAlarm")
def put_composite_alarm(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).put_composite_alarm(composite_alarm_definition(params))
    return {}


@handler("cloudwatch", "DescribeAlarms")
def describe_alarms(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    types = params.get("AlarmTypes")
    alarms, token = _svc(ctx).describe_alarms(
        names=params.get("AlarmNames"),
        prefix=params.get("AlarmNamePrefix"),
        types=types,
        state=params.get("StateValue"),
        action_prefix=params.get("ActionPrefix"),
        children_of=params.get("ChildrenOfAlarmName"),
        parents_of=params.get("ParentsOfAlarmName"),
        max_records=params.get("MaxRecords"),
        next_token=params.get("NextToken"),
    )
    # Both lists are always present (empty when not asked for), as CloudWatch answers:
    # boto3's alarm_exists and composite_alarm_exists waiters read them.
    out: dict[str, Any] = {
        "MetricAlarms": [metric_alarm_shape(a) for a in alarms if a.kind == "metric"],
        "CompositeAlarms": [composite_alarm_shape(a) for a in alarms if a.kind == "composite"],
    }
    if token:
        out["NextToken"] = token
    return out


@handler("cloudwatch", "DescribeAlarmsForMetric")
def describe_alarms_for_metric(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    alarms = _svc(ctx).describe_alarms_for_metric(
        namespace=params.get("Namespace"),
        metric_name=params.get("MetricName"),
        statistic=params.get("Statistic"),
        extended_statistic=params.get("ExtendedStatistic"),
        dimensions=_dims_in(params["Dimensions"]) if params.get("Dimensions") is not None else None,
        period=params.get("Period"),
        unit=params.get("Unit"),
    )
    return {"MetricAlarms": [metric_alarm_shape(a) for a in alarms]}


@handler("cloudwatch", "DeleteAlarms")
def delete_alarms(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).delete_alarms(params.get("AlarmNames") or [])
    return {}


@handler("cloudwatch", "SetAlarmState")
def set_alarm_state(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).set_alarm_state(
        params.get("AlarmName"),
        params.get("StateValue"),
        params.get("StateReason"),
        params.get("StateReasonData"),
    )
    return {}


@handler("cloudwatch", "EnableAlarmActions")
def enable_alarm_actions(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).set_actions_enabled(params.get("AlarmNames") or [], True)
    return {}


@handler("cloudwatch", "DisableAlarmActions")
def disable_alarm_actions(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).set_actions_enabled(params.get("AlarmNames") or [], False)
    return {}


@handler("cloudwatch", "DescribeAlarmHistory")
def describe_alarm_history(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    scan = params.get("ScanBy") or "TimestampDescending"
    if scan not in ("TimestampDescending", "TimestampAscending"):
        raise Invalid("ScanBy must be TimestampDescending or TimestampAscending", field="ScanBy")
    items, token = _svc(ctx).describe_history(
        name=params.get("AlarmName"),
        # As in CloudWatch: without AlarmTypes only metric alarms' history is returned.
        types=[_history_type(t) for t in params.get("AlarmTypes") or ["MetricAlarm"]],
        item_type=params.get("HistoryItemType"),
        start=params.get("StartDate"),
        end=params.get("EndDate"),
        max_records=params.get("MaxRecords"),
        next_token=params.get("NextToken"),
        ascending=scan == "TimestampAscending",
    )
    out: dict[str, Any] = {
        "AlarmHistoryItems": [
            {
                "AlarmName": i.alarm_name,
                "AlarmType": i.alarm_type,
                "Timestamp": i.timestamp,
                "HistoryItemType": i.item_type,
                "HistorySummary": i.summary,
                "HistoryData": i.data,
            }
            for i in items
        ]
    }
    if token:
        out["NextToken"] = token
    return out


def _history_type(t: str) -> str:
    if t not in ("MetricAlarm", "CompositeAlarm"):
        raise Invalid("AlarmTypes entries are MetricAlarm or CompositeAlarm", field="AlarmTypes")
    return t


def _mute_shape(r: MuteRule) -> dict[str, Any]:
    return _drop_none(
        {
            "Name": r.name,
            "AlarmMuteRuleArn": r.arn,
            "Description": r.description,
            "Rule": {
                "Schedule": {"Expression": r.expression, "Duration": r.duration, "Timezone": r.timezone}
            },
            "MuteTargets": {"AlarmNames": r.alarm_names},
            "StartDate": r.start_date,
            "ExpireDate": r.expire_date,
            "Status": r.status,
            "LastUpdatedTimestamp": r.updated_at,
            "MuteType": r.mute_type,
        }
    )


@handler("cloudwatch", "PutAlarmMuteRule")
def put_alarm_mute_rule(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).put_mute_rule(mute_rule_definition(params))
    return {}


@handler("cloudwatch", "GetAlarmMuteRule")
def get_alarm_mute_rule(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    return _mute_shape(_svc(ctx).get_mute_rule(params.get("AlarmMuteRuleName") or ""))


@handler("cloudwatch", "ListAlarmMuteRules")
def list_alarm_mute_rules(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    rules, token = _svc(ctx).list_mute_rules(
        alarm_name=params.get("AlarmName"),
        statuses=params.get("Statuses"),
        max_records=params.get("MaxRecords"),
        next_token=params.get("NextToken"),
    )
    out: dict[str, Any] = {
        "AlarmMuteRuleSummaries": [
            _drop_none(
                {
                    "AlarmMuteRuleArn": r.arn,
                    "ExpireDate": r.expire_date,
                    "Status": r.status,
                    "MuteType": r.mute_type,
                    "LastUpdatedTimestamp": r.updated_at,
                }
            )
            for r in rules
        ]
    }
    if token:
        out["NextToken"] = token
    return out


@handler("cloudwatch", "DeleteAlarmMuteRule")
def delete_alarm_mute_rule(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).delete_mute_rule(params.get("AlarmMuteRuleName") or "")
    return {}


@handler("cloudwatch", "TagResource")
def tag_resource(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).tag_resource(params.get("ResourceARN"), _tags_in(params.get("Tags")))
    return {}


@handler("cloudwatch", "UntagResource")
def untag_resource(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).untag_resource(params.get("ResourceARN"), params.get("TagKeys") or [])
    return {}


@handler("cloudwatch", "ListTagsForResource")
def list_tags_for_resource(ctx: AwsContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"Tags": _tags_out(_svc(ctx).list_tags(params.get("ResourceARN")))}

"""Alarms over REST: list, inspect, set state, acknowledge, re-notify, history, backtest, mutes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from rexwatch.api.auth import get_runtime
from rexwatch.runtime import Runtime
from rexwatch.services.alarms import (
    Actions,
    AlarmDefinition,
    AlarmsService,
    CompositeAlarmDefinition,
    Dimension,
    MetricQuery,
    MetricStat,
    MuteRuleDefinition,
    Tag,
)
from rexwatch.services.alarms.model import Alarm, MuteRule
from rexwatch.timeparse import parse_time

router = APIRouter(tags=["alarms"])


def _svc(rt: Runtime) -> AlarmsService:
    return rt.service(AlarmsService)


# The alarm body uses PutMetricAlarm's (or PutCompositeAlarm's) member names, so a definition
# written for CloudWatch can be sent as it is.


class DimensionBody(BaseModel):
    Name: str
    Value: str


class MetricBody(BaseModel):
    Namespace: str | None = None
    MetricName: str | None = None
    Dimensions: list[DimensionBody] = []


class MetricStatBody(BaseModel):
    Metric: MetricBody
    Period: int | None = None
    Stat: str | None = None
    Unit: str | None = None


class MetricQueryBody(BaseModel):
    Id: str | None = None
    MetricStat: MetricStatBody | None = None
    Expression: str | None = None
    Label: str | None = None
    ReturnData: bool = True
    Period: int | None = None

    def domain(self) -> MetricQuery:
        ms = self.MetricStat
        stat = None
        if ms is not None:
            dims = tuple(Dimension(d.Name, d.Value) for d in ms.Metric.Dimensions)
            stat = MetricStat(ms.Metric.Namespace, ms.Metric.MetricName, dims, ms.Period, ms.Stat, ms.Unit)
        return MetricQuery(self.Id, stat, self.Expression, self.Label, self.ReturnData, self.Period)

    @classmethod
    def of(cls, m: MetricQuery) -> MetricQueryBody:
        ms = None
        if m.metric_stat is not None:
            s = m.metric_stat
            ms = MetricStatBody(
                Metric=MetricBody(
                    Namespace=s.namespace,
                    MetricName=s.metric_name,
                    Dimensions=[DimensionBody(Name=d.name, Value=d.value) for d in s.dimensions],
                ),
                Period=s.period,
                Stat=s.stat,
                Unit=s.unit,
            )
        return cls(
            Id=m.id,
            MetricStat=ms,
            Expression=m.expression,
            Label=m.label,
            ReturnData=m.return_data,
            Period=m.period,
        )


class TagBody(BaseModel):
    Key: str
    Value: str = ""


class AlarmBody(BaseModel):
    """A metric alarm, or with ``AlarmRule`` a composite alarm."""

    AlarmDescription: str | None = None
    ActionsEnabled: bool = True
    AlarmActions: list[str] = []
    OKActions: list[str] = []
    InsufficientDataActions: list[str] = []
    Tags: list[TagBody] = []
    Namespace: str | None = None
    MetricName: str | None = None
    Dimensions: list[DimensionBody] = []
    Statistic: str | None = None
    ExtendedStatistic: str | None = None
    Period: int | None = None
    Unit: str | None = None
    EvaluationPeriods: int | None = None
    DatapointsToAlarm: int | None = None
    Threshold: float | None = None
    ComparisonOperator: str | None = None
    TreatMissingData: str | None = None
    EvaluateLowSampleCountPercentile: str | None = None
    Metrics: list[MetricQueryBody] = []
    AlarmRule: str | None = None
    ActionsSuppressor: str | None = None
    ActionsSuppressorWaitPeriod: int | None = None
    ActionsSuppressorExtensionPeriod: int | None = None

    def _actions(self) -> Actions:
        return Actions(tuple(self.AlarmActions), tuple(self.OKActions), tuple(self.InsufficientDataActions))

    def _tags(self) -> tuple[Tag, ...]:
        return tuple(Tag(t.Key, t.Value) for t in self.Tags)

    def metric_alarm(self, name: str) -> AlarmDefinition:
        return AlarmDefinition(
            name=name,
            namespace=self.Namespace,
            metric_name=self.MetricName,
            dimensions=tuple(Dimension(d.Name, d.Value) for d in self.Dimensions),
            statistic=self.Statistic,
            extended_statistic=self.ExtendedStatistic,
            period=self.Period,
            unit=self.Unit,
            evaluation_periods=self.EvaluationPeriods,
            datapoints_to_alarm=self.DatapointsToAlarm,
            threshold=self.Threshold,
            comparison_operator=self.ComparisonOperator,
            treat_missing_data=self.TreatMissingData,
            evaluate_low_sample_count_percentile=self.EvaluateLowSampleCountPercentile,
            metrics=tuple(m.domain() for m in self.Metrics),
            description=self.AlarmDescription,
            actions_enabled=self.ActionsEnabled,
            actions=self._actions(),
            tags=self._tags(),
        )

    def composite_alarm(self, name: str) -> CompositeAlarmDefinition:
        return CompositeAlarmDefinition(
            name=name,
            alarm_rule=self.AlarmRule,
            description=self.AlarmDescription,
            actions_enabled=self.ActionsEnabled,
            actions=self._actions(),
            actions_suppressor=self.ActionsSuppressor,
            actions_suppressor_wait_period=self.ActionsSuppressorWaitPeriod,
            actions_suppressor_extension_period=self.ActionsSuppressorExtensionPeriod,
            tags=self._tags(),
        )


def config_json(a: Alarm) -> dict[str, Any]:
    out = {k: v for k, v in a.config.items() if v is not None}
    if a.config.get("metrics"):
        out["metrics"] = [MetricQueryBody.of(m).model_dump(exclude_none=True) for m in a.config["metrics"]]
    if a.kind == "metric":
        out["dimensions"] = [{"Name": d.name, "Value": d.value} for d in a.dimensions]
    return out


def alarm_json(a: Alarm) -> dict[str, Any]:
    return {
        "name": a.name,
        "arn": a.arn,
        "type": a.alarm_type,
        "description": a.description,
        "state": a.state_value,
        "state_reason": a.state_reason,
        "state_reason_data": a.state_reason_data,
        "state_updated_at": a.state_updated_at,
        "state_transitioned_at": a.state_transitioned_at,
        "state_override": a.state_override,
        "namespace": a.namespace,
        "metric_name": a.metric_name,
        "dimensions": [{"Name": d.name, "Value": d.value} for d in a.dimensions],
        "config": config_json(a),
        "actions_enabled": a.actions_enabled,
        "alarm_actions": a.alarm_actions,
        "ok_actions": a.ok_actions,
        "insufficient_data_actions": a.insufficient_data_actions,
        "renotify_interval": a.renotify_interval,
        "acknowledged": {"at": a.acked_at, "by": a.acked_by, "reason": a.ack_reason} if a.acked_at else None,
        "muted_by": a.muted_by,
        "evaluation_error": a.evaluation_error,
        "config_updated_at": a.config_updated_at,
    }


def mute_json(r: MuteRule) -> dict[str, Any]:
    return {
        "name": r.name,
        "arn": r.arn,
        "description": r.description,
        "expression": r.expression,
        "duration": r.duration,
        "timezone": r.timezone,
        "alarm_names": r.alarm_names,
        "start_date": r.start_date,
        "expire_date": r.expire_date,
        "status": r.status,
        "type": r.mute_type,
        "updated_at": r.updated_at,
    }


@router.get("/alarms")
def list_alarms(
    state: str | None = None,
    prefix: str | None = None,
    type: list[str] = Query(default=["MetricAlarm", "CompositeAlarm"]),
    limit: int = Query(100, ge=1, le=100),
    next_token: str | None = None,
    rt: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    alarms, token = _svc(rt).describe_alarms(
        state=state, prefix=prefix, types=type, max_records=limit, next_token=next_token
    )
    return {"alarms": [alarm_json(a) for a in alarms], "next_token": token}


@router.put("/alarms/{name}", status_code=200)
def put_alarm(name: str, body: AlarmBody, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    """Create or update an alarm; the body uses PutMetricAlarm's (or PutCompositeAlarm's) field names."""
    if "AlarmRule" in body.model_fields_set:
        _svc(rt).put_composite_alarm(body.composite_alarm(name))
    else:
        _svc(rt).put_metric_alarm(body.metric_alarm(name))
    return alarm_json(_svc(rt).get(name))


@router.get("/alarms/{name}")
def get_alarm(name: str, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    return alarm_json(_svc(rt).get(name))


@router.delete("/alarms/{name}", status_code=204)
def delete_alarm(name: str, rt: Runtime = Depends(get_runtime)) -> None:
    _svc(rt).delete_alarms([name])


class StateIn(BaseModel):
    state: str
    reason: str = Field(min_length=1, max_length=1023)
    reason_data: str | None = None


@router.post("/alarms/{name}/state")
def set_state(name: str, body: StateIn, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    _svc(rt).set_alarm_state(name, body.state, body.reason, body.reason_data)
    return alarm_json(_svc(rt).get(name))


class ActionsIn(BaseModel):
    enabled: bool


@router.post("/alarms/{name}/actions")
def set_actions(name: str, body: ActionsIn, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    _svc(rt).get(name)
    _svc(rt).set_actions_enabled([name], body.enabled)
    return alarm_json(_svc(rt).get(name))


class AckIn(BaseModel):
    by: str = Field(min_length=1, max_length=200)
    reason: str = ""


@router.post("/alarms/{name}/ack")
def acknowledge(name: str, body: AckIn, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    return alarm_json(_svc(rt).acknowledge(name, body.by, body.reason))


class RenotifyIn(BaseModel):
    interval_seconds: int | None = Field(default=None, ge=60)


@router.put("/alarms/{name}/renotify")
def renotify(name: str, body: RenotifyIn, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    return alarm_json(_svc(rt).set_renotify(name, body.interval_seconds))


@router.get("/alarms/{name}/history")
def history(
    name: str,
    item_type: str | None = None,
    start: str | None = None,
    end: str | None = None,
    limit: int = Query(100, ge=1, le=100),
    next_token: str | None = None,
    rt: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    items, token = _svc(rt).describe_history(
        name=name,
        item_type=item_type,
        start=parse_time(start) if start else None,
        end=parse_time(end) if end else None,
        max_records=limit,
        next_token=next_token,
    )
    return {"items": [i.__dict__ for i in items], "next_token": token}


@router.post("/alarms/{name}/backtest")
def backtest(
    name: str, since: str = "7d", until: str | None = None, rt: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    start = parse_time(since).timestamp()
    end = parse_time(until).timestamp() if until else None
    out = _svc(rt).backtest(name, start, end)
    return {
        "alarm": name,
        "since": dt.datetime.fromtimestamp(start, dt.UTC),
        "transitions": [
            {
                "timestamp": dt.datetime.fromtimestamp(t.timestamp, dt.UTC),
                "old": t.old,
                "new": t.new,
                "reason": t.reason,
            }
            for t in out
        ],
    }


class MuteIn(BaseModel):
    alarm_names: list[str] = Field(min_length=1, max_length=100)
    duration: str = Field(description="ISO 8601 duration (PT2H) for the window")
    expression: str | None = Field(default=None, description="cron(...) for a recurring window; default now")
    timezone: str | None = None
    reason: str | None = None
    start: str | None = None


@router.get("/alarm-mutes")
def list_mutes(alarm: str | None = None, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    rules, _ = _svc(rt).list_mute_rules(alarm_name=alarm, max_records=1000)
    return {"mute_rules": [mute_json(r) for r in rules]}


@router.put("/alarm-mutes/{name}")
def put_mute(name: str, body: MuteIn, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    svc = _svc(rt)
    if body.expression:
        svc.put_mute_rule(
            MuteRuleDefinition(
                name=name,
                expression=body.expression,
                duration=body.duration,
                timezone=body.timezone,
                alarm_names=tuple(body.alarm_names),
                description=body.reason,
            )
        )
        return mute_json(svc.get_mute_rule(name))
    start = parse_time(body.start) if body.start else None
    return mute_json(
        svc.mute(body.alarm_names, duration=body.duration, name=name, reason=body.reason, start=start)
    )


@router.delete("/alarm-mutes/{name}", status_code=204)
def delete_mute(name: str, rt: Runtime = Depends(get_runtime)) -> None:
    _svc(rt).delete_mute_rule(name)

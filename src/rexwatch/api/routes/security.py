"""Security over REST: log alarms, rule templates, the IP blocklist and allowlist.

Log alarms use CloudWatch's naming style (PascalCase members such as
``AlarmActions``) though CloudWatch has no such alarm; their acknowledgement,
history, mutes and state go through the ``/alarms/{name}/...`` routes like any
alarm's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from rexwatch.api.auth import get_runtime
from rexwatch.api.routes.alarms import alarm_json
from rexwatch.runtime import Runtime
from rexwatch.services.alarms import Actions, AlarmsService, Tag
from rexwatch.services.alarms.model import LogAlarmDefinition, LogAlarmKey
from rexwatch.services.security import templates
from rexwatch.services.security.blocklist import BlockEntry, BlocklistService
from rexwatch.timeparse import parse_time

router = APIRouter(tags=["security"])


def _alarms(rt: Runtime) -> AlarmsService:
    return rt.service(AlarmsService)


def _blocks(rt: Runtime) -> BlocklistService:
    return rt.service(BlocklistService)


class TagBody(BaseModel):
    Key: str
    Value: str = ""


class LogAlarmBody(BaseModel):
    LogGroupNames: list[str] = Field(default=[], max_length=50)
    QueryString: str | None = None
    FilterPattern: str | None = None
    EvaluationInterval: int | str | None = Field(default=None, description="seconds or a duration (5m)")
    QueryWindow: int | str | None = Field(default=None, description="seconds or a duration; default the interval")
    ValueColumn: str | None = None
    Threshold: float | None = None
    ComparisonOperator: str | None = None
    GroupBy: list[str] = Field(default=[], max_length=10)
    TopRows: int | None = None
    IpColumn: str | None = None
    AlarmDescription: str | None = None
    ActionsEnabled: bool = True
    AlarmActions: list[str] = []
    OKActions: list[str] = []
    Tags: list[TagBody] = []

    def domain(self, name: str) -> LogAlarmDefinition:
        return LogAlarmDefinition(
            name=name,
            log_group_names=tuple(self.LogGroupNames),
            query=self.QueryString,
            filter_pattern=self.FilterPattern,
            every=self.EvaluationInterval,  # type: ignore[arg-type]
            window=self.QueryWindow,  # type: ignore[arg-type]
            column=self.ValueColumn,
            threshold=self.Threshold,
            comparison_operator=self.ComparisonOperator,
            group_by=tuple(self.GroupBy),
            top_rows=self.TopRows,
            ip_column=self.IpColumn,
            description=self.AlarmDescription,
            actions_enabled=self.ActionsEnabled,
            actions=Actions(tuple(self.AlarmActions), tuple(self.OKActions)),
            tags=tuple(Tag(t.Key, t.Value) for t in self.Tags),
        )


def key_json(k: LogAlarmKey) -> dict[str, Any]:
    return {"key": k.key, "state": k.state, "value": k.value, "row": k.row,
            "since": dt.datetime.fromtimestamp(k.since, dt.UTC),
            "updated_at": dt.datetime.fromtimestamp(k.updated_at, dt.UTC)}


def log_alarm_json(a, keys: list[LogAlarmKey] | None = None) -> dict[str, Any]:
    out = alarm_json(a)
    if keys is not None:
        out["keys"] = [key_json(k) for k in keys]
    return out


# ---------------------------------------------------------------- log alarms


@router.get("/log-alarms")
def list_log_alarms(state: str | None = None, prefix: str | None = None,
                    rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    return {"log_alarms": [log_alarm_json(a) for a in _alarms(rt).log_alarms_list(prefix=prefix, state=state)]}


@router.put("/log-alarms/{name}")
def put_log_alarm(name: str, body: LogAlarmBody, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    """Create or update a log alarm (updating keeps its state)."""
    _alarms(rt).put_log_alarm(body.domain(name))
    return log_alarm_json(_alarms(rt).get_log_alarm(name))


@router.get("/log-alarms/{name}")
def get_log_alarm(name: str, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    svc = _alarms(rt)
    return log_alarm_json(svc.get_log_alarm(name), svc.log_alarm_keys(name))


@router.delete("/log-alarms/{name}", status_code=204)
def delete_log_alarm(name: str, rt: Runtime = Depends(get_runtime)) -> None:
    _alarms(rt).get_log_alarm(name)
    _alarms(rt).delete_alarms([name])


@router.get("/log-alarms/{name}/keys")
def log_alarm_keys(name: str, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    return {"alarm": name, "keys": [key_json(k) for k in _alarms(rt).log_alarm_keys(name)]}


@router.post("/log-alarms/{name}/backtest")
def backtest_log_alarm(name: str, since: str = "1d", until: str | None = None,
                       rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    """Replay the alarm over stored logs: each key's transitions."""
    start = parse_time(since).timestamp()
    end = parse_time(until).timestamp() if until else None
    items = _alarms(rt).backtest_log(name, start, end)
    return {
        "alarm": name,
        "since": dt.datetime.fromtimestamp(start, dt.UTC),
        "transitions": [
            {"timestamp": dt.datetime.fromtimestamp(i.timestamp, dt.UTC), "key": i.key, "old": i.old,
             "new": i.new, "value": i.value}
            for i in items
        ],
    }


# ---------------------------------------------------------------- templates


class ApplyIn(BaseModel):
    params: dict[str, Any] = Field(default={}, description="template parameters and alarm settings")


@router.get("/security/templates")
def list_templates() -> dict[str, Any]:
    return {"templates": [t.view() for t in templates.TEMPLATES.values()]}


@router.get("/security/templates/{name}")
def get_template(name: str) -> dict[str, Any]:
    return templates.get(name).view()


@router.post("/security/templates/{name}/apply")
def apply_template(name: str, body: ApplyIn, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    """Create (or replace) the log alarm a template makes with ``params``."""
    d = templates.render(name, body.params)
    _alarms(rt).put_log_alarm(d)
    return log_alarm_json(_alarms(rt).get_log_alarm(d.name))


# ---------------------------------------------------------------- blocklist and allowlist


class BlockIn(BaseModel):
    ip: str = Field(description="an address or CIDR network")
    ttl: int | str | None = Field(default=None, description="seconds or a duration (1h); none: until removed")
    reason: str = ""


class AllowIn(BaseModel):
    ip: str = Field(description="an address or CIDR network")
    note: str = ""


def block_json(e: BlockEntry) -> dict[str, Any]:
    return {
        "ip": e.cidr,
        "reason": e.reason,
        "alarm": e.alarm_name,
        "added_by": e.added_by,
        "created_at": dt.datetime.fromtimestamp(e.created_at, dt.UTC),
        "expires_at": dt.datetime.fromtimestamp(e.expires_at, dt.UTC) if e.expires_at else None,
    }


def _ttl(value: int | str | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    from rexwatch.timeparse import parse_duration

    return int(value) if value.isdigit() else int(parse_duration(value).total_seconds())


@router.get("/blocklist")
def list_blocks(rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    return {"entries": [block_json(e) for e in _blocks(rt).entries()]}


@router.post("/blocklist", status_code=201)
def add_block(body: BlockIn, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    return block_json(_blocks(rt).block(body.ip, ttl=_ttl(body.ttl), reason=body.reason))


@router.get("/blocklist/export")
def export_blocks(format: str = Query("plain", description="plain, nginx, ipset or json"),
                  rt: Runtime = Depends(get_runtime)) -> Response:
    media, text = _blocks(rt).export(format)
    return Response(text, media_type=media)


@router.get("/blocklist/check/{ip:path}")
def check_block(ip: str, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    e = _blocks(rt).check(ip)
    return {"ip": ip, "blocked": e is not None, "entry": block_json(e) if e else None}


@router.delete("/blocklist/{ip:path}", status_code=204)
def remove_block(ip: str, rt: Runtime = Depends(get_runtime)) -> None:
    _blocks(rt).unblock(ip)


@router.get("/allowlist")
def list_allowed(rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    return {"entries": [{"ip": a.cidr, "note": a.note,
                         "created_at": dt.datetime.fromtimestamp(a.created_at, dt.UTC)}
                        for a in _blocks(rt).allowlist()]}


@router.post("/allowlist", status_code=201)
def add_allowed(body: AllowIn, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    a = _blocks(rt).allow(body.ip, body.note)
    return {"ip": a.cidr, "note": a.note, "created_at": dt.datetime.fromtimestamp(a.created_at, dt.UTC)}


@router.delete("/allowlist/{ip:path}", status_code=204)
def remove_allowed(ip: str, rt: Runtime = Depends(get_runtime)) -> None:
    _blocks(rt).disallow(ip)

"""What ``rexwatch agent`` sends: metrics (including the reserved ``AWS/*`` namespaces) and log lines.

These endpoints are the only way into ``AWS/*``: PutMetricData on the AWS door and the metrics REST
route refuse those namespaces, as CloudWatch does, so data under them is always agent-produced and a
user's own metrics can never pose as a system's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from rexwatch.api.auth import get_runtime
from rexwatch.errors import AlreadyExists, Invalid
from rexwatch.runtime import Runtime
from rexwatch.services.logs import LogsService
from rexwatch.services.logs.model import LogEventBatch
from rexwatch.services.metrics import Datum, MetricsService

router = APIRouter(prefix="/agent", tags=["agent"])

MAX_NAME = 512


class AgentDimension(BaseModel):
    name: str
    value: str


class AgentDatum(BaseModel):
    metric_name: str
    value: float
    unit: str = "None"
    timestamp: float = Field(ge=0, le=253_402_300_799)
    dimensions: list[AgentDimension] = Field(default_factory=list, max_length=30)


class AgentMetrics(BaseModel):
    agent: str = Field(max_length=MAX_NAME)
    namespace: str
    metric_data: list[AgentDatum] = Field(max_length=1000)


class AgentEvent(BaseModel):
    # Epoch milliseconds up to the year 9999: past that no log store (nor AWS) has a time for it.
    timestamp: int = Field(ge=0, le=253_402_300_799_999)
    message: str


class AgentLogs(BaseModel):
    agent: str = Field(max_length=MAX_NAME)
    group: str
    stream: str
    events: list[AgentEvent] = Field(max_length=10_000)


def _when(ts: float, i: int) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(ts, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise Invalid(f"metric_data[{i}].timestamp {ts!r} is out of range", field="timestamp")


@router.post("/metrics")
def put_agent_metrics(body: AgentMetrics, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    data = [
        Datum(d.metric_name, [(x.name, x.value) for x in d.dimensions], _when(d.timestamp, i), d.value,
              unit=d.unit)
        for i, d in enumerate(body.metric_data)
    ]
    rows = rt.service(MetricsService).put_metric_data(body.namespace, data, allow_reserved=True)
    return {"accepted": len(data), "rows": rows}


@router.post("/logs")
def put_agent_logs(body: AgentLogs, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    svc = rt.service(LogsService)
    # The agent ships into groups named by convention (/aws/rds/instance/<id>/postgresql...), so
    # they are created on first use rather than asking the operator to pre-create each one.
    try:
        svc.create_log_group(body.group)
    except AlreadyExists:
        pass
    try:
        svc.create_log_stream(body.group, body.stream)
    except AlreadyExists:
        pass
    events = LogEventBatch.of([(e.timestamp, e.message) for e in body.events])
    result = svc.put_log_events(body.group, body.stream, events)
    r = result.rejected
    return {"accepted": len(body.events), "too_old_end_index": r.too_old_end,
            "too_new_start_index": r.too_new_start, "expired_end_index": r.expired_end}

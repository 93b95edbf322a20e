"""Logs over REST: /api/v1/logs/... (group names travel in query strings or bodies: they contain '/')."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from rexwatch.api.auth import get_runtime
from rexwatch.errors import Invalid
from rexwatch.runtime import Runtime
from rexwatch.services.logs import LogsService
from rexwatch.timeparse import parse_time, to_millis

router = APIRouter(prefix="/logs", tags=["logs"])


def _svc(rt: Runtime) -> LogsService:
    return rt.service(LogsService)


def _ms(value: str | int | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return to_millis(parse_time(value))
    except Invalid as e:
        raise Invalid(f"{name}: {e.message}", field=name)


class GroupCreate(BaseModel):
    name: str
    retention_days: int | None = None
    log_group_class: str | None = None
    tags: dict[str, str] | None = None


class StreamCreate(BaseModel):
    group: str
    name: str


class Retention(BaseModel):
    group: str
    days: int


class InputEvent(BaseModel):
    timestamp: int
    message: str


class PutEvents(BaseModel):
    group: str
    stream: str
    events: list[dict[str, Any]] = Field(description="[{timestamp: epoch ms, message}], chronological")


class FilterRequest(BaseModel):
    groups: list[str] = Field(default_factory=list)
    group_prefix: str | None = None
    streams: list[str] | None = None
    stream_prefix: str | None = None
    start: str | int | None = None
    end: str | int | None = None
    pattern: str | None = None
    limit: int | None = None
    next_token: str | None = None


class IndexPolicy(BaseModel):
    group: str
    fields: list[str]


class PatternTest(BaseModel):
    pattern: str
    messages: list[str]


def _resolve_groups(svc: LogsService, groups: list[str], prefix: str | None) -> list[str]:
    names = list(groups)
    if prefix:
        names += [g.name for g in svc.catalog.list_groups(prefix=prefix)]
    if not names:
        raise Invalid("name log groups in 'groups' or a 'group_prefix' that matches some", field="groups")
    return list(dict.fromkeys(names))


@router.get("/groups")
def list_groups(prefix: str | None = None, pattern: str | None = None, limit: int | None = None,
                next_token: str | None = None, rt: Runtime = Depends(get_runtime)) -> dict:
    groups, token = _svc(rt).describe_log_groups(prefix=prefix, pattern=pattern, limit=limit, next_token=next_token)
    return {"groups": groups, "next_token": token}


@router.post("/groups", status_code=201)
def create_group(body: GroupCreate, rt: Runtime = Depends(get_runtime)) -> dict:
    svc = _svc(rt)
    svc.create_log_group(body.name, log_group_class=body.log_group_class, tags=body.tags)
    if body.retention_days is not None:
        svc.put_retention_policy(body.name, body.retention_days)
    return svc.group_info(svc.group(body.name))


@router.delete("/groups", status_code=204)
def delete_group(name: str, rt: Runtime = Depends(get_runtime)) -> Response:
    _svc(rt).delete_log_group(name)
    return Response(status_code=204)


@router.put("/retention")
def put_retention(body: Retention, rt: Runtime = Depends(get_runtime)) -> dict:
    _svc(rt).put_retention_policy(body.group, body.days)
    return {"group": body.group, "retention_days": body.days}


@router.delete("/retention", status_code=204)
def delete_retention(group: str, rt: Runtime = Depends(get_runtime)) -> Response:
    _svc(rt).delete_retention_policy(group)
    return Response(status_code=204)


@router.get("/streams")
def list_streams(group: str, prefix: str | None = None, order_by: str | None = None, descending: bool = False,
                 limit: int | None = None, next_token: str | None = None,
                 rt: Runtime = Depends(get_runtime)) -> dict:
    streams, token = _svc(rt).describe_log_streams(group, prefix=prefix, order_by=order_by, descending=descending,
                                                   limit=limit, next_token=next_token)
    return {"streams": streams, "next_token": token}


@router.post("/streams", status_code=201)
def create_stream(body: StreamCreate, rt: Runtime = Depends(get_runtime)) -> dict:
    _svc(rt).create_log_stream(body.group, body.name)
    return {"group": body.group, "name": body.name}


@router.delete("/streams", status_code=204)
def delete_stream(group: str, name: str, rt: Runtime = Depends(get_runtime)) -> Response:
    _svc(rt).delete_log_stream(group, name)
    return Response(status_code=204)


@router.post("/events")
def put_events(body: PutEvents, rt: Runtime = Depends(get_runtime)) -> dict:
    return _svc(rt).put_log_events(body.group, body.stream, body.events)


@router.get("/events")
def get_events(group: str, stream: str, start: str | None = None, end: str | None = None,
               next_token: str | None = None, limit: int | None = None, start_from_head: bool = False,
               rt: Runtime = Depends(get_runtime)) -> dict:
    page = _svc(rt).get_log_events(group, stream, start_ms=_ms(start, "start"), end_ms=_ms(end, "end"),
                                   next_token=next_token, limit=limit, start_from_head=start_from_head)
    return {"events": page.events, "next_forward_token": page.next_token,
            "next_backward_token": page.backward_token}


@router.post("/filter")
def filter_events(body: FilterRequest, rt: Runtime = Depends(get_runtime)) -> dict:
    svc = _svc(rt)
    groups = _resolve_groups(svc, body.groups, body.group_prefix)
    page = svc.filter_log_events(groups, stream_names=body.streams, stream_prefix=body.stream_prefix,
                                 start_ms=_ms(body.start, "start"), end_ms=_ms(body.end, "end"),
                                 pattern=body.pattern, limit=body.limit, next_token=body.next_token)
    return {"events": page.events, "next_token": page.next_token, "snapshot_seq": page.snapshot_seq}


@router.get("/tail")
def tail(group: list[str] = Query(...), after_seq: int = Query(..., ge=0), stream: list[str] | None = Query(None),
         stream_prefix: str | None = None, start: str | None = None, end: str | None = None,
         pattern: str | None = None, limit: int = Query(10_000, ge=1, le=10_000),
         rt: Runtime = Depends(get_runtime)) -> dict:
    """Events committed after ``after_seq`` in commit order; pass the returned ``last_seq`` next time."""
    page = _svc(rt).tail(group, after_seq=after_seq, stream_names=stream, stream_prefix=stream_prefix,
                         start_ms=_ms(start, "start"), end_ms=_ms(end, "end"), pattern=pattern, limit=limit)
    return {"events": page.events, "last_seq": page.last_seq}


@router.get("/cursor")
def cursor(group: list[str] = Query(...), rt: Runtime = Depends(get_runtime)) -> dict:
    """The highest seq visible now: start a follow from here."""
    return {"last_seq": _svc(rt).last_seq(group)}


@router.get("/index-policy")
def get_index_policies(group: list[str] = Query(...), rt: Runtime = Depends(get_runtime)) -> dict:
    return {"policies": _svc(rt).describe_index_policies(group),
            "field_indexes": _svc(rt).describe_field_indexes(group)}


@router.put("/index-policy")
def put_index_policy(body: IndexPolicy, rt: Runtime = Depends(get_runtime)) -> dict:
    import orjson

    return _svc(rt).put_index_policy(body.group, orjson.dumps({"Fields": body.fields}).decode())


@router.delete("/index-policy", status_code=204)
def delete_index_policy(group: str, rt: Runtime = Depends(get_runtime)) -> Response:
    _svc(rt).delete_index_policy(group)
    return Response(status_code=204)


@router.post("/test-pattern")
def test_pattern(body: PatternTest, rt: Runtime = Depends(get_runtime)) -> dict:
    return {"matches": _svc(rt).test_metric_filter(body.pattern, body.messages)}


class _Collector:
    """A write-only file for the Arrow IPC writer whose bytes the response streams out."""

    closed = False

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, b: Any) -> int:
        self.parts.append(bytes(b))
        return len(b)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts = []
        return out


@router.get("/export")
def export(group: str, start: str, end: str, pattern: str | None = None,
           rt: Runtime = Depends(get_runtime)) -> StreamingResponse:
    """One group's events in [start, end) as an Arrow IPC stream, a day at a time (the CLI writes Parquet)."""
    svc = _svc(rt)
    start_ms, end_ms = _ms(start, "start"), _ms(end, "end")
    total = svc.count_events(group, start_ms, end_ms, pattern)
    chunks = svc.export_batches(group, start_ms, end_ms, pattern)

    def body():
        out = _Collector()
        writer = pa.ipc.new_stream(pa.PythonFile(out, mode="w"), svc.EXPORT_SCHEMA)
        for table in chunks:
            writer.write_table(table)
            yield out.take()
        writer.close()
        yield out.take()

    return StreamingResponse(body(), media_type="application/vnd.apache.arrow.stream",
                             headers={"X-Total-Events": str(total)})

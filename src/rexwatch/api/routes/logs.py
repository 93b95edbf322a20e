"""Logs over REST: /api/v1/logs/... (group names travel in query strings or bodies: they contain '/')."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse

from rexwatch.api.auth import get_runtime
from rexwatch.api.responses import JSON
from rexwatch.api.schemas.logs import (
    FieldIndexOut,
    FilterPage,
    FilterRequest,
    GroupCreate,
    GroupPage,
    IndexPolicies,
    IndexPolicyIn,
    IndexPolicyOut,
    LogGroupOut,
    LogStreamOut,
    PutEvents,
    PutResultOut,
    Retention,
    StreamCreate,
    StreamEventsPage,
    StreamPage,
    TailPage,
    filtered_events,
    output_events,
)
from rexwatch.errors import Invalid
from rexwatch.runtime import Runtime
from rexwatch.services.logs import LogsService
from rexwatch.services.logs.export import ChunkSink
from rexwatch.services.logs.model import LogEventBatch
from rexwatch.services.logs.rules import MAX_LONG
from rexwatch.timeparse import parse_time, to_millis

router = APIRouter(prefix="/logs", tags=["logs"])
# Optional members (retentionInDays, rejectedLogEventsInfo...) are left out when unset, as AWS does.
_SPARSE = {"response_model_exclude_unset": True}


def _svc(rt: Runtime) -> LogsService:
    return rt.service(LogsService)


def _ms(value: str | int | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return to_millis(parse_time(value))
    except Invalid as e:
        raise Invalid(f"{name}: {e.message}", field=name)


def _resolve_groups(svc: LogsService, groups: list[str], prefix: str | None) -> list[str]:
    names = list(groups)
    if prefix:
        names += [g.name for g in svc.catalog.list_groups(prefix=prefix)]
    if not names:
        raise Invalid("name log groups in 'groups' or a 'group_prefix' that matches some", field="groups")
    return list(dict.fromkeys(names))


@router.get("/groups", response_model=GroupPage, **_SPARSE)
def list_groups(prefix: str | None = None, pattern: str | None = None, limit: int | None = None,
                next_token: str | None = None, rt: Runtime = Depends(get_runtime)) -> GroupPage:
    groups, token = _svc(rt).describe_log_groups(prefix=prefix, pattern=pattern, limit=limit, next_token=next_token)
    return GroupPage(groups=[LogGroupOut.of(g) for g in groups], next_token=token)


@router.post("/groups", status_code=201, response_model=LogGroupOut, **_SPARSE)
def create_group(body: GroupCreate, rt: Runtime = Depends(get_runtime)) -> LogGroupOut:
    svc = _svc(rt)
    svc.create_log_group(body.name, log_group_class=body.log_group_class, tags=body.tags)
    if body.retention_days is not None:
        svc.put_retention_policy(body.name, body.retention_days)
    return LogGroupOut.of(svc.describe_log_group(body.name))


@router.delete("/groups", status_code=204)
def delete_group(name: str, rt: Runtime = Depends(get_runtime)) -> Response:
    _svc(rt).delete_log_group(name)
    return Response(status_code=204)


@router.put("/retention")
def put_retention(body: Retention, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    _svc(rt).put_retention_policy(body.group, body.days)
    return {"group": body.group, "retention_days": body.days}


@router.delete("/retention", status_code=204)
def delete_retention(group: str, rt: Runtime = Depends(get_runtime)) -> Response:
    _svc(rt).delete_retention_policy(group)
    return Response(status_code=204)


@router.get("/streams", response_model=StreamPage, **_SPARSE)
def list_streams(group: str, prefix: str | None = None, order_by: str | None = None, descending: bool = False,
                 limit: int | None = None, next_token: str | None = None,
                 rt: Runtime = Depends(get_runtime)) -> StreamPage:
    streams, token = _svc(rt).describe_log_streams(group, prefix=prefix, order_by=order_by, descending=descending,
                                                   limit=limit, next_token=next_token)
    return StreamPage(streams=[LogStreamOut.of(s) for s in streams], next_token=token)


@router.post("/streams", status_code=201)
def create_stream(body: StreamCreate, rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    _svc(rt).create_log_stream(body.group, body.name)
    return {"group": body.group, "name": body.name}


@router.delete("/streams", status_code=204)
def delete_stream(group: str, name: str, rt: Runtime = Depends(get_runtime)) -> Response:
    _svc(rt).delete_log_stream(group, name)
    return Response(status_code=204)


@router.post("/events", response_model=PutResultOut, **_SPARSE)
def put_events(body: PutEvents, rt: Runtime = Depends(get_runtime)) -> PutResultOut:
    columnar = body.timestamps is not None or body.messages is not None
    if columnar and body.events is not None:
        raise Invalid("send either events or timestamps and messages, not both", field="timestamps")
    if columnar:
        events = LogEventBatch.from_columns(body.timestamps, body.messages)
    else:
        events = LogEventBatch.from_records(body.events, "events")
    return PutResultOut.of(_svc(rt).put_log_events(body.group, body.stream, events))


@router.get("/events", response_model=StreamEventsPage)
def get_events(group: str, stream: str, start: str | None = None, end: str | None = None,
               next_token: str | None = None, limit: int | None = None, start_from_head: bool = False,
               rt: Runtime = Depends(get_runtime)) -> JSON:
    page = _svc(rt).get_log_events(group, stream, start_ms=_ms(start, "start"), end_ms=_ms(end, "end"),
                                   next_token=next_token, limit=limit, start_from_head=start_from_head)
    return JSON({"events": output_events(page.events), "next_forward_token": page.next_forward_token,
                 "next_backward_token": page.next_backward_token})


@router.post("/filter", response_model=FilterPage)
def filter_events(body: FilterRequest, rt: Runtime = Depends(get_runtime)) -> JSON:
    svc = _svc(rt)
    groups = _resolve_groups(svc, body.groups, body.group_prefix)
    page = svc.filter_log_events(groups, stream_names=body.streams, stream_prefix=body.stream_prefix,
                                 start_ms=_ms(body.start, "start"), end_ms=_ms(body.end, "end"),
                                 pattern=body.pattern, limit=body.limit, next_token=body.next_token)
    return JSON({"events": filtered_events(page.events), "next_token": page.next_token,
                 "snapshot_seq": page.snapshot_seq})


@router.get("/tail", response_model=TailPage)
def tail(group: list[str] = Query(...), after_seq: int = Query(..., ge=0, le=MAX_LONG),
         stream: list[str] | None = Query(None), stream_prefix: str | None = None, start: str | None = None,
         end: str | None = None, pattern: str | None = None, limit: int = Query(10_000, ge=1, le=10_000),
         rt: Runtime = Depends(get_runtime)) -> JSON:
    """Events committed after ``after_seq`` in commit order; pass the returned ``last_seq`` next time."""
    page = _svc(rt).tail(group, after_seq=after_seq, stream_names=stream, stream_prefix=stream_prefix,
                         start_ms=_ms(start, "start"), end_ms=_ms(end, "end"), pattern=pattern, limit=limit)
    return JSON({"events": filtered_events(page.events), "last_seq": page.last_seq})


@router.get("/cursor")
def cursor(group: list[str] = Query(...), rt: Runtime = Depends(get_runtime)) -> dict[str, int]:
    """The highest seq visible now: start a follow from here."""
    return {"last_seq": _svc(rt).last_seq(group)}


@router.get("/index-policy", response_model=IndexPolicies)
def get_index_policies(group: list[str] = Query(...), rt: Runtime = Depends(get_runtime)) -> IndexPolicies:
    svc = _svc(rt)
    return IndexPolicies(policies=[IndexPolicyOut.of(p) for g in group for p in svc.describe_index_policies([g])],
                         field_indexes=[FieldIndexOut.of(f) for f in svc.describe_field_indexes(group)])


@router.put("/index-policy", response_model=IndexPolicyOut)
def put_index_policy(body: IndexPolicyIn, rt: Runtime = Depends(get_runtime)) -> IndexPolicyOut:
    import orjson

    return IndexPolicyOut.of(_svc(rt).put_index_policy(body.group, orjson.dumps({"Fields": body.fields}).decode()))


@router.get("/export")
def export(group: str, start: str, end: str, pattern: str | None = None,
           rt: Runtime = Depends(get_runtime)) -> StreamingResponse:
    """One group's events in [start, end) as an Arrow IPC stream, a day at a time (the CLI writes Parquet)."""
    svc = _svc(rt)
    start_ms, end_ms = _ms(start, "start"), _ms(end, "end")
    total = svc.count_events(group, start_ms, end_ms, pattern)
    chunks = svc.export_batches(group, start_ms, end_ms, pattern)

    def body():
        out = ChunkSink()
        writer = pa.ipc.new_stream(pa.PythonFile(out, mode="w"), svc.EXPORT_SCHEMA)
        for table in chunks:
            writer.write_table(table)
            yield out.take()
        writer.close()
        yield out.take()

    return StreamingResponse(body(), media_type="application/vnd.apache.arrow.stream",
                             headers={"X-Total-Events": str(total)})

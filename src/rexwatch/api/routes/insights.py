"""Logs Insights over REST: /api/v1/insights/queries and /api/v1/insights/definitions."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Response

from rexwatch.api.auth import get_runtime
from rexwatch.api.schemas.insights import (
    Definition,
    DefinitionList,
    DefinitionOut,
    QueryInfoOut,
    QueryList,
    QueryResultOut,
    StartQuery,
)
from rexwatch.errors import Invalid
from rexwatch.runtime import Runtime
from rexwatch.services.insights import QueriesService
from rexwatch.timeparse import parse_time, to_millis

router = APIRouter(prefix="/insights", tags=["insights"])
_SPARSE = {"response_model_exclude_unset": True}  # ``error`` only when there is one


def _svc(rt: Runtime) -> QueriesService:
    return rt.service(QueriesService)


def _seconds(value: str | int | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return to_millis(parse_time(value)) // 1000
    except Invalid as e:
        raise Invalid(f"{name}: {e.message}", field=name)


@router.post("/queries", status_code=201, response_model=QueryResultOut, **_SPARSE)
def start_query(body: StartQuery, rt: Runtime = Depends(get_runtime)) -> QueryResultOut:
    svc = _svc(rt)
    now = int(time.time())
    qid = svc.start_query(body.query, group_names=body.groups, start_s=_seconds(body.start, "start", now - 3600),
                          end_s=_seconds(body.end, "end", now), limit=body.limit)
    res = svc.wait(qid, body.wait_s) if body.wait_s else svc.get_query_results(qid)
    return QueryResultOut.of(res, svc.output_columns(qid))


@router.get("/queries", response_model=QueryList)
def list_queries(group: str | None = None, status: str | None = None, limit: int | None = None,
                 next_token: str | None = None, rt: Runtime = Depends(get_runtime)) -> QueryList:
    queries, token = _svc(rt).describe_queries(group_name=group, status=status, max_results=limit,
                                               next_token=next_token)
    return QueryList(queries=[QueryInfoOut.of(q) for q in queries], next_token=token)


@router.get("/queries/{query_id}", response_model=QueryResultOut, **_SPARSE)
def get_query(query_id: str, wait_s: float = 0, rt: Runtime = Depends(get_runtime)) -> QueryResultOut:
    svc = _svc(rt)
    if not 0 <= wait_s <= 300:
        raise Invalid("wait_s must be between 0 and 300", field="wait_s")
    res = svc.wait(query_id, wait_s) if wait_s else svc.get_query_results(query_id)
    return QueryResultOut.of(res, svc.output_columns(query_id))


@router.delete("/queries/{query_id}")
def stop_query(query_id: str, rt: Runtime = Depends(get_runtime)) -> dict[str, bool]:
    return {"success": _svc(rt).stop_query(query_id)}


@router.get("/definitions", response_model=DefinitionList)
def list_definitions(prefix: str | None = None, limit: int | None = None, next_token: str | None = None,
                     rt: Runtime = Depends(get_runtime)) -> DefinitionList:
    defs, token = _svc(rt).describe_query_definitions(prefix=prefix, max_results=limit, next_token=next_token)
    return DefinitionList(definitions=[DefinitionOut.of(d) for d in defs], next_token=token)


@router.post("/definitions", status_code=201)
def create_definition(body: Definition, rt: Runtime = Depends(get_runtime)) -> dict[str, str]:
    def_id = _svc(rt).put_query_definition(body.name, body.query, group_names=body.groups)
    return {"id": def_id}


@router.put("/definitions/{definition_id}")
def update_definition(definition_id: str, body: Definition, rt: Runtime = Depends(get_runtime)) -> dict[str, str]:
    _svc(rt).put_query_definition(body.name, body.query, group_names=body.groups, definition_id=definition_id)
    return {"id": definition_id}


@router.delete("/definitions/{definition_id}", status_code=204)
def delete_definition(definition_id: str, rt: Runtime = Depends(get_runtime)) -> Response:
    _svc(rt).delete_query_definition(definition_id)
    return Response(status_code=204)

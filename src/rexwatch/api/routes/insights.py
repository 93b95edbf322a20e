"""Logs Insights over REST: /api/v1/insights/queries and /api/v1/insights/definitions."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from rexwatch.api.auth import get_runtime
from rexwatch.errors import Invalid
from rexwatch.runtime import Runtime
from rexwatch.services.insights import QueriesService
from rexwatch.timeparse import parse_time, to_millis

router = APIRouter(prefix="/insights", tags=["insights"])


def _svc(rt: Runtime) -> QueriesService:
    return rt.service(QueriesService)


def _seconds(value: str | int | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return to_millis(parse_time(value)) // 1000
    except Invalid as e:
        raise Invalid(f"{name}: {e.message}", field=name)


class StartQuery(BaseModel):
    query: str = Field(description="Logs Insights query text")
    groups: list[str] = Field(description="log group names or ARNs (1-50)")
    start: str | int | None = Field(None, description="ISO-8601, epoch s/ms or relative (1h); default 1h ago")
    end: str | int | None = Field(None, description="same forms; default now")
    limit: int | None = None
    wait_s: float = Field(0, ge=0, le=300, description="wait up to this long for the result")


class Definition(BaseModel):
    name: str
    query: str
    groups: list[str] = Field(default_factory=list)


def _result(svc: QueriesService, query_id: str, res: dict) -> dict:
    rows = [{f["field"]: f["value"] for f in row} for row in res["results"]]
    out = {"query_id": query_id, "status": res["status"], "rows": rows, "results": res["results"],
           "statistics": res["statistics"]}
    out["columns"] = svc.output_columns(query_id)
    if res.get("error"):
        out["error"] = res["error"]
    return out


@router.post("/queries", status_code=201)
def start_query(body: StartQuery, rt: Runtime = Depends(get_runtime)) -> dict:
    svc = _svc(rt)
    now = int(time.time())
    qid = svc.start_query(body.query, group_names=body.groups, start_s=_seconds(body.start, "start", now - 3600),
                          end_s=_seconds(body.end, "end", now), limit=body.limit)
    res = svc.wait(qid, body.wait_s) if body.wait_s else svc.get_query_results(qid)
    return _result(svc, qid, res)


@router.get("/queries")
def list_queries(group: str | None = None, status: str | None = None, limit: int | None = None,
                 next_token: str | None = None, rt: Runtime = Depends(get_runtime)) -> dict:
    queries, token = _svc(rt).describe_queries(group_name=group, status=status, max_results=limit,
                                               next_token=next_token)
    return {"queries": queries, "next_token": token}


@router.get("/queries/{query_id}")
def get_query(query_id: str, wait_s: float = 0, rt: Runtime = Depends(get_runtime)) -> dict:
    svc = _svc(rt)
    if not 0 <= wait_s <= 300:
        raise Invalid("wait_s must be between 0 and 300", field="wait_s")
    res = svc.wait(query_id, wait_s) if wait_s else svc.get_query_results(query_id)
    return _result(svc, query_id, res)


@router.delete("/queries/{query_id}")
def stop_query(query_id: str, rt: Runtime = Depends(get_runtime)) -> dict:
    return {"success": _svc(rt).stop_query(query_id)}


@router.get("/definitions")
def list_definitions(prefix: str | None = None, limit: int | None = None, next_token: str | None = None,
                     rt: Runtime = Depends(get_runtime)) -> dict:
    defs, token = _svc(rt).describe_query_definitions(prefix=prefix, max_results=limit, next_token=next_token)
    return {"definitions": defs, "next_token": token}


@router.post("/definitions", status_code=201)
def create_definition(body: Definition, rt: Runtime = Depends(get_runtime)) -> dict:
    def_id = _svc(rt).put_query_definition(body.name, body.query, group_names=body.groups)
    return {"id": def_id}


@router.put("/definitions/{definition_id}")
def update_definition(definition_id: str, body: Definition, rt: Runtime = Depends(get_runtime)) -> dict:
    _svc(rt).put_query_definition(body.name, body.query, group_names=body.groups, definition_id=definition_id)
    return {"id": definition_id}


@router.delete("/definitions/{definition_id}", status_code=204)
def delete_definition(definition_id: str, rt: Runtime = Depends(get_runtime)) -> Response:
    _svc(rt).delete_query_definition(definition_id)
    return Response(status_code=204)

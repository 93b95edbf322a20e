"""Teams over REST (admins only; the role check is in rexwatch.api.auth)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from rexwatch.api.auth import get_runtime
from rexwatch.runtime import Runtime
from rexwatch.services.teams import TeamService

router = APIRouter(prefix="/teams", tags=["teams"])


class TeamCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class Assignment(BaseModel):
    kind: Literal["log_group", "alarm"]
    name: str = Field(min_length=1, max_length=512)
    # The team to give the resource to; null: to no team (every caller sees it).
    team: str | None = Field(default=None, max_length=100)


def _svc(rt: Runtime) -> TeamService:
    return rt.service(TeamService)


@router.get("")
def list_teams(rt: Runtime = Depends(get_runtime)) -> dict:
    return {"teams": [t.view() for t in _svc(rt).list()]}


@router.post("", status_code=201)
def create_team(body: TeamCreate, rt: Runtime = Depends(get_runtime)) -> dict:
    return _svc(rt).create(body.name).view()


@router.put("/assignments")
def assign(body: Assignment, rt: Runtime = Depends(get_runtime)) -> dict:
    _svc(rt).assign(body.kind, body.name, body.team)
    return {"kind": body.kind, "name": body.name, "team": body.team}


@router.get("/{name}")
def get_team(name: str, rt: Runtime = Depends(get_runtime)) -> dict:
    return _svc(rt).get(name).view()


@router.delete("/{name}")
def delete_team(name: str, rt: Runtime = Depends(get_runtime)) -> dict:
    return _svc(rt).delete(name).view()


@router.put("/{name}/members/{username}")
def add_member(name: str, username: str, rt: Runtime = Depends(get_runtime)) -> dict:
    added = _svc(rt).add_member(name, username)
    return {"team": name, "username": username, "added": added}


@router.delete("/{name}/members/{username}")
def remove_member(name: str, username: str, rt: Runtime = Depends(get_runtime)) -> dict:
    _svc(rt).remove_member(name, username)
    return {"team": name, "username": username, "removed": True}

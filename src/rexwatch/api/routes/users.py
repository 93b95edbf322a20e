"""Users over REST (admin keys or admin sessions; the role check is in rexwatch.api.auth)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from rexwatch.api.auth import get_runtime, principal_of
from rexwatch.runtime import Runtime
from rexwatch.services.audit import AuditService
from rexwatch.services.users import UserService

router = APIRouter(prefix="/users", tags=["users"])

Role = Literal["viewer", "editor", "admin"]


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    role: Role = "viewer"


class RoleChange(BaseModel):
    role: Role


class PasswordReset(BaseModel):
    password: str = Field(min_length=1, max_length=1024)


def _audit(rt: Runtime, request: Request, action: str, resource: str, resource_id: str, **kw) -> None:
    rt.service(AuditService).record(
        principal_of(request), action, resource, resource_id=resource_id, door="rest",
        ip=request.client.host if request.client else "", user_agent=request.headers.get("user-agent", ""), **kw)
    request.scope.setdefault("state", {})["audited"] = True


@router.get("")
def list_users(rt: Runtime = Depends(get_runtime)) -> dict:
    return {"users": [u.view() for u in rt.service(UserService).list()]}


@router.post("", status_code=201)
def create_user(body: UserCreate, request: Request, rt: Runtime = Depends(get_runtime)) -> dict:
    user = rt.service(UserService).create(body.username, body.password, body.role)
    _audit(rt, request, "CREATE", "users", user.username, after={"username": user.username, "role": user.role},
           details={"role": user.role})
    return user.view()


@router.put("/{username}/role")
def set_role(username: str, body: RoleChange, request: Request, rt: Runtime = Depends(get_runtime)) -> dict:
    before, after = rt.service(UserService).set_role(username, body.role)
    # A role change is an UPDATE of "roles": the privilege-escalation rule template watches those.
    _audit(rt, request, "UPDATE", "roles", username, before={"role": before.role}, after={"role": after.role},
           details={"role": after.role})
    return after.view()


@router.post("/{username}/password")
def reset_password(username: str, body: PasswordReset, request: Request, rt: Runtime = Depends(get_runtime)) -> dict:
    user = rt.service(UserService).reset_password(username, body.password)
    _audit(rt, request, "UPDATE", "users", username, details={"password": "reset", "sessions": "ended"})
    return user.view()


@router.post("/{username}/logout")
def logout_everywhere(username: str, request: Request, rt: Runtime = Depends(get_runtime)) -> dict:
    svc = rt.service(UserService)
    ended = svc.logout_everywhere(svc.get(username).id)
    _audit(rt, request, "LOGOUT", "sessions", username, details={"sessions_ended": ended})
    return {"username": username, "sessions_ended": ended}


@router.delete("/{username}")
def delete_user(username: str, request: Request, rt: Runtime = Depends(get_runtime)) -> dict:
    user = rt.service(UserService).delete(username)
    _audit(rt, request, "DELETE", "users", username, before={"username": user.username, "role": user.role})
    return user.view()


@router.post("/{username}/disable")
def disable_user(username: str, request: Request, rt: Runtime = Depends(get_runtime)) -> dict:
    """No more logins: the user's sessions end and their keys are revoked."""
    svc = rt.service(UserService)
    before = svc.get(username)
    user = svc.disable(username)
    _audit(rt, request, "UPDATE", "users", username, before={"disabled": before.disabled}, after={"disabled": True},
           details={"disabled": True, "sessions": "ended", "keys": "revoked"})
    return user.view()


@router.post("/{username}/enable")
def enable_user(username: str, request: Request, rt: Runtime = Depends(get_runtime)) -> dict:
    svc = rt.service(UserService)
    before = svc.get(username)
    user = svc.enable(username)
    _audit(rt, request, "UPDATE", "users", username, before={"disabled": before.disabled}, after={"disabled": False},
           details={"disabled": False})
    return user.view()

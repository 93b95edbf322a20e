"""API keys over REST (for remote administration; the CLI manages keys locally)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from rexwatch.api.auth import get_runtime, require_admin
from rexwatch.runtime import Runtime

router = APIRouter(prefix="/keys", tags=["keys"], dependencies=[Depends(require_admin)])


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    aws: bool = False
    # Keys made over REST are user keys unless an admin asks for another admin.
    role: Literal["viewer", "editor", "admin", "user"] = "editor"
    scope: Literal["ingest", "read"] | None = None


class KeyOut(BaseModel):
    id: int
    name: str
    kind: str
    role: str
    scope: str | None = None
    user_id: int | None = None
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class KeyCreated(KeyOut):
    token: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None


@router.post("", status_code=201, response_model=KeyCreated)
def create_key(body: KeyCreate, rt: Runtime = Depends(get_runtime)) -> KeyCreated:
    new = rt.keys.create(body.name, aws=body.aws, role=body.role, scope=body.scope)
    return KeyCreated(
        **new.info.__dict__,
        token=new.token,
        access_key_id=new.access_key_id,
        secret_access_key=new.secret_access_key,
    )


@router.get("", response_model=list[KeyOut])
def list_keys(rt: Runtime = Depends(get_runtime)) -> list[KeyOut]:
    return [KeyOut(**k.__dict__) for k in rt.keys.list()]


@router.delete("/{ident}", response_model=KeyOut)
def revoke_key(ident: str, rt: Runtime = Depends(get_runtime)) -> KeyOut:
    return KeyOut(**rt.keys.revoke(ident).__dict__)

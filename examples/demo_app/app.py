"""A small multi-tenant API instrumented with the rexwatch SDK: the runbook's failed-login line, an
audit event for every change, and the blocklist middleware answering 403 to blocked addresses.

Run it next to a rexwatch server (see README.md in this directory):

    REXWATCH_ENDPOINT=http://127.0.0.1:9099 uvicorn app:app --port 8000

Callers name themselves with ``X-User`` (a stand-in for the app's real authentication, which is
not what this demo is about) and tenants with the path.
"""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI, Header, HTTPException, Request
from pydantic import BaseModel

import rexwatch.sdk as rw
from rexwatch.sdk.asgi import RexwatchMiddleware
from rexwatch.sdk.blocklist import BlocklistCache, BlocklistMiddleware

rw.configure(service=os.environ.get("REXWATCH_SERVICE", "utm-api"),
             audit_log_group=os.environ.get("REXWATCH_AUDIT_LOG_GROUP", "/utm/audit"))
log = logging.getLogger("utm.api")
endpoint = os.environ.get("REXWATCH_ENDPOINT", "http://127.0.0.1:9099")
blocklist = BlocklistCache(endpoint, api_key=os.environ.get("REXWATCH_API_KEY") or None,
                           refresh_s=float(os.environ.get("DEMO_BLOCKLIST_REFRESH_S", "15"))).start()

app = FastAPI(title="utm-api demo")
app.add_middleware(BlocklistMiddleware, cache=blocklist)
app.add_middleware(RexwatchMiddleware)

# In-memory state: enough to show the calls an audit trail records.
USERS: dict[str, dict[str, str]] = {"1": {"name": "ann", "role": "viewer", "password": "let-me-in-please"}}
TENANTS: dict[str, dict[str, str]] = {str(i): {"name": f"tenant-{i}"} for i in range(1, 51)}


class Login(BaseModel):
    user_id: str
    password: str


class RoleChange(BaseModel):
    role: str


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


@app.post("/login")
def login(body: Login, request: Request) -> dict:
    user = USERS.get(body.user_id)
    if user is None or user["password"] != body.password:
        # The runbook's line: what the brute-force and credential-stuffing templates count.
        log.warning("failed login attempt", extra={"user_id": body.user_id, "ip_address": client_ip(request)})
        raise HTTPException(401, "wrong user or password")
    rw.audit("LOGIN", "sessions", actor=body.user_id, resource_id=body.user_id, ip=client_ip(request))
    return {"ok": True}


@app.put("/tenants/{tenant_id}/users/{user_id}/role")
def set_role(tenant_id: str, user_id: str, body: RoleChange, request: Request,
             x_user: str = Header(...)) -> dict:
    user = USERS.setdefault(user_id, {"name": user_id, "role": "viewer", "password": ""})
    before = user["role"]
    user["role"] = body.role
    # An UPDATE on roles: the privilege-escalation template fires on it.
    rw.audit("UPDATE", "roles", actor=x_user, resource_id=user_id, tenant_id=tenant_id, ip=client_ip(request),
             details={"role": body.role, "before": before})
    return {"user_id": user_id, "role": body.role}


@app.delete("/tenants/{tenant_id}")
def delete_tenant(tenant_id: str, request: Request, x_user: str = Header(...)) -> dict:
    if TENANTS.pop(tenant_id, None) is None:
        raise HTTPException(404, "no such tenant")
    # More than 10 of these by one actor within the hour: the mass-deletion template fires.
    rw.audit("DELETE", "tenants", actor=x_user, resource_id=tenant_id, tenant_id=tenant_id, ip=client_ip(request))
    return {"deleted": tenant_id}


@app.get("/stats")
def stats() -> dict:
    """The SDK's counters: how many lines went out (tests wait on them)."""
    return rw.stats()

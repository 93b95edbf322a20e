"""REST: /api/v1/dashboards (CloudWatch dashboards) and /api/v1/dashboards/apply for dashboards kept in git.

Bodies travel as the raw JSON text the user wrote: PUT stores the request body as given, as
PutDashboard does, and GET returns it parsed under ``body`` and verbatim under ``body_text``.
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response

from rexwatch.api.auth import get_runtime
from rexwatch.errors import Invalid
from rexwatch.runtime import Runtime
from rexwatch.services.dashboards import DashboardsService
from rexwatch.services.dashboards import body as bodies
from rexwatch.services.dashboards.service import MAX_BODY_BYTES

router = APIRouter(prefix="/dashboards", tags=["dashboards"])


def dashboards(rt: Runtime = Depends(get_runtime)) -> DashboardsService:
    return rt.service(DashboardsService)


def _messages(msgs: list) -> list[dict[str, str]]:
    return [{"data_path": m.data_path, "message": m.message} for m in msgs]


@router.get("")
def list_dashboards(prefix: str | None = None, next_token: str | None = None,
                    svc: DashboardsService = Depends(dashboards)) -> dict[str, Any]:
    entries, token = svc.list(prefix, next_token)
    return {"dashboards": [{"name": e.name, "arn": e.arn, "last_modified": e.last_modified_ms, "size": e.size}
                           for e in entries], "next_token": token}


@router.post("/apply")
def apply_dashboards(body: dict[str, Any] = Body(...), svc: DashboardsService = Depends(dashboards)) -> dict:
    items = body.get("dashboards")
    if not isinstance(items, dict):
        raise Invalid("dashboards must be an object of dashboard name to body", field="dashboards")
    # A body may come as JSON text (kept as written) or as an object (stored as compact JSON).
    texts = {k: v if isinstance(v, str) else bodies.dumps(v) for k, v in items.items()}
    return svc.apply(texts, prune=bool(body.get("prune", False)))


@router.get("/{name}")
def get_dashboard(name: str, svc: DashboardsService = Depends(dashboards)) -> dict[str, Any]:
    d = svc.get(name)
    return {"name": d.name, "arn": d.arn, "last_modified": d.last_modified_ms, "body": bodies.parse_or_none(d.body),
            "body_text": d.body}


@router.put("/{name}")
async def put_dashboard(name: str, request: Request, svc: DashboardsService = Depends(dashboards)) -> dict:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise Invalid(f"the dashboard body is larger than {MAX_BODY_BYTES} bytes", field="body")
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise Invalid("the dashboard body must be UTF-8 JSON", field="body")
    # The control store blocks: run the put off the event loop.
    warnings = await anyio.to_thread.run_sync(svc.put, name, text)
    return {"name": name, "warnings": _messages(warnings)}


@router.delete("/{name}", status_code=204)
def delete_dashboard(name: str, svc: DashboardsService = Depends(dashboards)) -> Response:
    svc.delete([name])
    return Response(status_code=204)

"""The audit trail in the console (admins only, like /api/v1/audit): newest changes first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rexwatch.services.audit import AuditService
from rexwatch.web import templates
from rexwatch.web.common import call, time_range

router = APIRouter(include_in_schema=False)


@router.get("/audit")
async def audit_page(request: Request) -> Response:
    tr, problem = time_range(request, "1d")
    svc = request.app.state.runtime.service(AuditService)
    events = await call(svc.recent, since_ms=tr.start_ms, limit=500)
    return templates.TemplateResponse(request, "audit.html", {"events": events, "tr": tr, "problem": problem,
                                                              "group": svc.group})

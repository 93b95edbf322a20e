"""The audit trail in the console (admins only, like /api/v1/audit): newest changes first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rexwatch.errors import RexwatchError
from rexwatch.services.audit import TIMELINE_FIELDS, AuditService, timeline_pattern
from rexwatch.web import templates
from rexwatch.web.common import RELATIVE, call, time_range

router = APIRouter(include_in_schema=False)


@router.get("/audit")
async def audit_page(request: Request) -> Response:
    tr, problem = time_range(request, "1d")
    svc = request.app.state.runtime.service(AuditService)
    filters = {f: (request.query_params.get(f) or "")[:200] for f in TIMELINE_FIELDS}
    events: list[dict] = []
    try:
        events = await call(svc.recent, since_ms=tr.start_ms, until_ms=None if tr.since else tr.end_ms,
                            pattern=timeline_pattern(filters), limit=500)
    except RexwatchError as e:
        problem = e.message
    return templates.TemplateResponse(request, "audit.html", {"events": events, "tr": tr, "problem": problem,
                                                              "group": svc.group, "filters": filters,
                                                              "relative": RELATIVE})

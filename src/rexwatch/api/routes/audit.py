"""The audit trail over REST (admins only: it names people and their addresses)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from rexwatch.api.auth import get_runtime
from rexwatch.runtime import Runtime
from rexwatch.services.audit import AuditService
from rexwatch.timeparse import parse_duration

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
def audit_events(
    since: str = Query("1d", max_length=20, description="How far back, as a duration (15m, 1h, 7d)."),
    filter_pattern: str | None = Query(None, max_length=1024, alias="filter",
                                       description="A CloudWatch filter pattern, e.g. { $.actor = \"user:ann\" }."),
    limit: int = Query(100, ge=1, le=10_000),
    rt: Runtime = Depends(get_runtime),
) -> dict:
    import time

    from rexwatch.errors import Invalid

    try:
        span = parse_duration(since)
    except (ValueError, Invalid) as e:
        raise Invalid(f"since: {getattr(e, 'message', e)}", field="since")
    start = int((time.time() - span.total_seconds()) * 1000)
    svc = rt.service(AuditService)
    return {"log_group": svc.group, "events": svc.recent(since_ms=start, pattern=filter_pattern, limit=limit)}

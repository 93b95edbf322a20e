"""Server information."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from rexwatch import __version__
from rexwatch.api.auth import get_runtime
from rexwatch.runtime import Runtime

router = APIRouter(tags=["system"])


@router.get("/info")
def info(rt: Runtime = Depends(get_runtime)) -> dict:
    s = rt.settings
    return {
        "version": __version__,
        "region": s.region,
        "account_id": s.account_id,
        "auth_enabled": s.auth_enabled,
        "telemetry_database": s.telemetry_database,
    }

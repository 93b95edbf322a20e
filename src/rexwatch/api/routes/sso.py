"""Single sign-on over REST, for admins: the configured providers and the linked identities."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from rexwatch.api.auth import get_runtime, principal_of
from rexwatch.runtime import Runtime
from rexwatch.services.audit import AuditService
from rexwatch.services.sso.service import SsoService

router = APIRouter(prefix="/sso", tags=["users"])


@router.get("/providers")
def list_providers(rt: Runtime = Depends(get_runtime)) -> dict:
    sso = rt.service(SsoService)
    return {"providers": [{**p.masked(), "redirect_uri": sso.redirect_uri(p)} for p in sso.providers()]}


@router.get("/identities")
def list_identities(rt: Runtime = Depends(get_runtime)) -> dict:
    return {"identities": rt.service(SsoService).identities()}


@router.delete("/identities/{provider}/{subject}")
def unlink_identity(provider: str, subject: str, request: Request, rt: Runtime = Depends(get_runtime)) -> dict:
    """Forget which user a provider account signs in as; its next login is a first login again."""
    gone = rt.service(SsoService).unlink(provider, subject)
    rt.service(AuditService).record(
        principal_of(request), "DELETE", "sso_identities", resource_id=f"{provider}/{subject}", door="rest",
        ip=request.client.host if request.client else "", user_agent=request.headers.get("user-agent", ""),
        before=gone)
    request.scope.setdefault("state", {})["audited"] = True
    return {"unlinked": gone}

"""The password reset pages: ``/forgot`` mails a link, ``/reset?token=...`` sets the new password.

Both are open (the token is the credential) and are POST forms with the console's CSRF check.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from rexwatch.errors import RexwatchError
from rexwatch.services.audit import AuditService
from rexwatch.services.recovery import RESET_MINUTES, PasswordResets
from rexwatch.web.account import _page, client_ip
from rexwatch.web.common import call, check_csrf, url

router = APIRouter(include_in_schema=False)


@router.get("/forgot")
async def forgot_page(request: Request) -> Response:
    return _page(request, "forgot.html", {"minutes": RESET_MINUTES})


@router.post("/forgot")
async def forgot(request: Request) -> Response:
    fields = await check_csrf(request)
    rt = request.app.state.runtime
    who = fields.get("who", "")[:254]
    await call(rt.service(PasswordResets).request, who)
    # Recorded whatever happened, in the failed-login shape's spirit: who asked, from where.
    await call(rt.service(AuditService).record, None, "UPDATE", "password_resets", resource_id=who.strip()[:200],
               door="console", actor="anonymous", ip=client_ip(request),
               user_agent=request.headers.get("user-agent", ""), details={"requested": True})
    return _page(request, "forgot.html", {"sent": True, "minutes": RESET_MINUTES})


@router.get("/reset")
async def reset_page(request: Request) -> Response:
    token = request.query_params.get("token", "")[:200]
    try:
        username = await call(request.app.state.runtime.service(PasswordResets).check, token)
    except RexwatchError as e:
        return _page(request, "reset.html", {"problem": e.message}, status=e.status)
    return _page(request, "reset.html", {"username": username, "token": token})


@router.post("/reset")
async def reset(request: Request) -> Response:
    fields = await check_csrf(request)
    rt = request.app.state.runtime
    resets = rt.service(PasswordResets)
    token = fields.get("token", "")[:200]
    try:
        username = await call(resets.check, token)
    except RexwatchError as e:
        return _page(request, "reset.html", {"problem": e.message}, status=e.status)
    if fields.get("password", "") != fields.get("password2", ""):
        return _page(request, "reset.html", {"username": username, "token": token, "problem": "the passwords differ"},
                     status=400)
    try:
        await call(resets.redeem, token, fields.get("password", ""))
    except RexwatchError as e:
        return _page(request, "reset.html", {"username": username, "token": token, "problem": e.message},
                     status=e.status)
    await call(rt.service(AuditService).record, None, "UPDATE", "users", resource_id=username, door="console",
               actor=f"user:{username}", ip=client_ip(request), user_agent=request.headers.get("user-agent", ""),
               details={"password": "reset by link", "sessions": "ended"})
    request.scope.setdefault("state", {})["audited"] = True
    return RedirectResponse(url("/login", done="Password changed: sign in with the new one."), status_code=303)

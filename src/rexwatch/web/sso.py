"""Single sign-on pages: ``/login/sso/NAME`` starts a login at provider NAME, and
``/login/sso/NAME/callback`` is where the provider sends the browser back.

Both are GET (the provider redirects with a GET) and open without a session: the start only
redirects, and the callback proves itself with the provider's code and the state in the
encrypted flow cookie. Every refusal is shown on the login page in words, with its status.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from rexwatch.api.guard import SESSION_COOKIE
from rexwatch.errors import RexwatchError
from rexwatch.services.audit import AuditService
from rexwatch.services.sso.service import FLOW_COOKIE, FLOW_TTL_S, SsoService
from rexwatch.web.account import _page, _safe_next, _secure, client_ip
from rexwatch.web.common import call

router = APIRouter(include_in_schema=False)
_FLOW_PATH = "/login/sso/"


def _refused(request: Request, problem: str, status: int) -> Response:
    response = _page(request, "login.html", {"next": "/", "problem": problem}, status=status)
    response.delete_cookie(FLOW_COOKIE, path=_FLOW_PATH)
    return response


@router.get("/login/sso/{name}")
async def sso_start(request: Request, name: str) -> Response:
    sso = request.app.state.runtime.service(SsoService)
    try:
        started = await sso.begin(name, _safe_next(request.query_params.get("next")))
    except RexwatchError as e:
        return _refused(request, f"Single sign-on with {name[:40]} cannot start: {e.message}", e.status)
    response = RedirectResponse(started.url, status_code=303)
    # Lax, not Strict: the provider's redirect back is a cross-site top-level GET that must carry it.
    response.set_cookie(FLOW_COOKIE, started.cookie, httponly=True, samesite="lax", secure=_secure(request),
                        path=_FLOW_PATH, max_age=FLOW_TTL_S)
    return response


@router.get("/login/sso/{name}/callback")
async def sso_callback(request: Request, name: str) -> Response:
    rt = request.app.state.runtime
    sso = rt.service(SsoService)
    ip, ua = client_ip(request), request.headers.get("user-agent", "")
    params = {k: v for k, v in request.query_params.items()}
    try:
        claims, target = await sso.finish(name, request.cookies.get(FLOW_COOKIE, ""), params)
        signed = await call(sso.admit, name, claims, ip=ip, user_agent=ua)
    except RexwatchError as e:
        return _refused(request, f"Single sign-on with {name[:40]} failed: {e.message}", e.status)
    user = signed.user
    from rexwatch.services.access import Principal

    await call(rt.service(AuditService).record, Principal("user", user.username, user.role, user_id=user.id),
               "LOGIN", "sessions", resource_id=user.username, door="console", ip=ip, user_agent=ua,
               details={"idp": name, "subject": signed.subject, "teams": signed.teams})
    response = RedirectResponse(_safe_next(target), status_code=303)
    response.delete_cookie(FLOW_COOKIE, path=_FLOW_PATH)
    response.set_cookie(SESSION_COOKIE, signed.session, httponly=True, samesite="lax", secure=_secure(request),
                        path="/", max_age=rt.settings.session_max_hours * 3600)
    return response


def buttons(runtime) -> list[dict[str, str]]:
    """The login page's single sign-on buttons."""
    return [{"name": p.name, "label": p.button} for p in runtime.settings.sso]


async def provider_logout_page(request: Request, user_id: int) -> Response | None:
    """For a user of a provider with ``provider_logout``: a page that goes on to the provider's
    end-session endpoint. A page, not a redirect: the console's CSP (form-action 'self') stops a
    form's redirect to another site, and the user sees where they are being sent."""
    sso = request.app.state.runtime.service(SsoService)
    try:
        target = await sso.logout_url(user_id)
    except RexwatchError:  # the provider is down: the local session has ended anyway
        return None
    if not target:
        return None
    return _page(request, "sso_signed_out.html", {"target": target})

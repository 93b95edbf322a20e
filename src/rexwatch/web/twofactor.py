"""The second factor in the console: the code page after the password (``/login/2fa``), and each
user's own page to turn TOTP on or off (``/account/2fa``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from rexwatch.errors import Forbidden, RexwatchError, Throttled
from rexwatch.services.audit import AuditService
from rexwatch.services.totp import CHALLENGE_S, TotpService
from rexwatch.services.users import UserService
from rexwatch.web.account import _page, _safe_next, _secure, client_ip, signed_in
from rexwatch.web.common import call, check_csrf, url

router = APIRouter(include_in_schema=False)
CHALLENGE_COOKIE = "rexwatch_2fa"


async def ask_for_code(request: Request, totp: TotpService, user_id: int, username: str, target: str) -> Response:
    token = await call(totp.challenge, user_id, username)
    response = RedirectResponse(url("/login/2fa", next=target), status_code=303)
    response.set_cookie(CHALLENGE_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request),
                        path="/login", max_age=int(CHALLENGE_S))
    return response


@router.get("/login/2fa")
async def code_page(request: Request) -> Response:
    totp = request.app.state.runtime.service(TotpService)
    username = totp.pending(request.cookies.get(CHALLENGE_COOKIE, ""))
    if username is None:
        return RedirectResponse("/login", status_code=303)
    return _page(request, "login_2fa.html", {"username": username, "next": _safe_next(request.query_params.get("next"))})


@router.post("/login/2fa")
async def code(request: Request) -> Response:
    fields = await check_csrf(request)
    rt = request.app.state.runtime
    totp = rt.service(TotpService)
    users = rt.service(UserService)
    target = _safe_next(fields.get("next"))
    token = request.cookies.get(CHALLENGE_COOKIE, "")
    username = totp.pending(token)
    ua = request.headers.get("user-agent", "")
    try:
        user_id, username = await call(totp.answer, token, fields.get("code", ""))
    except Throttled as e:
        return RedirectResponse(url("/login", done=e.message), status_code=303)
    except RexwatchError as e:
        if username is None:
            return RedirectResponse(url("/login", done=e.message), status_code=303)
        await call(users.second_factor_failed, username, client_ip(request), ua)
        return _page(request, "login_2fa.html", {"username": username, "next": target, "problem": e.message},
                     status=e.status)
    session = await call(users.open_session, user_id, ip=client_ip(request), user_agent=ua)
    response = await signed_in(request, username, session, target, second_factor="totp")
    response.delete_cookie(CHALLENGE_COOKIE, path="/login")
    return response


def _me(request: Request) -> str:
    principal = request.scope.get("state", {}).get("principal")
    if principal is None or principal.kind != "user":
        raise Forbidden("sign in to the console as a user to manage your second factor (API keys have none)")
    return principal.name


async def _audit(request: Request, username: str, what: str) -> None:
    rt = request.app.state.runtime
    principal = request.scope.get("state", {}).get("principal")
    await call(rt.service(AuditService).record, principal, "UPDATE", "users", resource_id=username, door="console",
               ip=client_ip(request), user_agent=request.headers.get("user-agent", ""),
               details={"second_factor": what})
    request.scope.setdefault("state", {})["audited"] = True


@router.get("/account/2fa")
async def account_page(request: Request) -> Response:
    username = _me(request)
    totp = request.app.state.runtime.service(TotpService)
    status = await call(totp.status, username)
    ctx: dict = {"status": status}
    if not status["enabled"]:
        enrolment = await call(totp.start, username)
        ctx.update(uri=enrolment.uri, secret=enrolment.secret, qr=await call(enrolment.qr_svg_data_uri))
    return _page(request, "account_2fa.html", ctx)


@router.post("/account/2fa/confirm")
async def confirm(request: Request) -> Response:
    fields = await check_csrf(request)
    username = _me(request)
    totp = request.app.state.runtime.service(TotpService)
    try:
        codes = await call(totp.confirm, username, fields.get("code", ""))
    except RexwatchError as e:
        status = await call(totp.status, username)
        ctx: dict = {"status": status, "problem": e.message}
        if not status["enabled"]:
            enrolment = await call(totp.start, username)
            ctx.update(uri=enrolment.uri, secret=enrolment.secret, qr=await call(enrolment.qr_svg_data_uri))
        return _page(request, "account_2fa.html", ctx, status=e.status)
    await _audit(request, username, "on")
    return _page(request, "account_2fa.html", {"status": await call(totp.status, username), "codes": codes})


@router.post("/account/2fa/disable")
async def disable(request: Request) -> Response:
    fields = await check_csrf(request)
    username = _me(request)
    totp = request.app.state.runtime.service(TotpService)
    try:
        await call(totp.disable, username, fields.get("code", ""))
    except RexwatchError as e:
        return _page(request, "account_2fa.html", {"status": await call(totp.status, username),
                                                   "problem": e.message}, status=e.status)
    await _audit(request, username, "off")
    return RedirectResponse("/account/2fa", status_code=303)

"""Sign in, sign out, and the first-run setup page.

``/login`` and ``/setup`` are open (they check a password or the setup token themselves);
``/logout`` needs the session it ends. All three are POST forms with the console's CSRF check.
The session cookie is HttpOnly and SameSite=Lax, and Secure when the request came over TLS.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from rexwatch.api.guard import SESSION_COOKIE
from rexwatch.errors import Forbidden, RexwatchError
from rexwatch.services.audit import AuditService
from rexwatch.services.users import UserService
from rexwatch.web import templates
from rexwatch.web.common import call, check_csrf, csrf_token, set_csrf_cookie, url

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only paths on this server: never "//other.site" or "https://...".
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.app.state.runtime.settings.base_url.startswith("https://")


def _page(request: Request, name: str, ctx: dict, status: int = 200) -> Response:
    ctx = {**ctx, "csrf": csrf_token(request)}
    if name == "login.html":
        from rexwatch.web.sso import buttons

        ctx["sso"] = buttons(request.app.state.runtime)
    return set_csrf_cookie(request, templates.TemplateResponse(request, name, ctx, status_code=status))


@router.get("/login")
async def login_page(request: Request) -> Response:
    users = request.app.state.runtime.service(UserService)
    if not await call(users.any_user):
        return RedirectResponse("/setup", status_code=303)
    q = request.query_params
    return _page(request, "login.html", {"next": _safe_next(q.get("next")), "done": q.get("done")})


@router.post("/login")
async def login(request: Request) -> Response:
    fields = await check_csrf(request)
    rt = request.app.state.runtime
    users = rt.service(UserService)
    username = fields.get("username", "")[:200]
    ua = request.headers.get("user-agent", "")
    target = _safe_next(fields.get("next"))
    from rexwatch.services.totp import TotpService

    totp = rt.service(TotpService)
    second = await call(totp.enabled, username)
    try:
        user, token = await call(users.login, username, fields.get("password", ""), ip=client_ip(request),
                                 user_agent=ua, open_session=not second)
    except RexwatchError as e:
        return _page(request, "login.html", {"next": target, "problem": e.message, "username": username},
                     status=e.status)
    if token is None:  # the password was right; the authenticator's code comes next
        from rexwatch.web.twofactor import ask_for_code

        return await ask_for_code(request, totp, user.id, user.username, target)
    return await signed_in(request, user.username, token, target)


async def signed_in(request: Request, username: str, token: str, target: str, **details) -> Response:
    """Record the login and set the session cookie."""
    rt = request.app.state.runtime
    users = rt.service(UserService)
    ua = request.headers.get("user-agent", "")
    user = await call(users.get, username)
    await call(rt.service(AuditService).record, users.principal(user.username), "LOGIN", "sessions",
               resource_id=user.username, door="console", ip=client_ip(request), user_agent=ua,
               details=details or None)
    response = RedirectResponse(target, status_code=303)
    settings = rt.settings
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/",
                        max_age=settings.session_max_hours * 3600)
    return response


@router.get("/logout")
async def logout_page(request: Request) -> Response:
    return _page(request, "logout.html", {})


@router.post("/logout")
async def logout(request: Request) -> Response:
    fields = await check_csrf(request)
    rt = request.app.state.runtime
    users = rt.service(UserService)
    principal = request.scope.get("state", {}).get("principal")
    token = request.cookies.get(SESSION_COOKIE, "")
    ended = 0
    if principal is not None and principal.kind == "user":
        if fields.get("everywhere"):
            ended = await call(users.logout_everywhere, principal.user_id)
        else:
            await call(users.logout, token)
            ended = 1
        await call(rt.service(AuditService).record, principal, "LOGOUT", "sessions", resource_id=principal.name,
                   door="console", ip=client_ip(request), user_agent=request.headers.get("user-agent", ""),
                   details={"sessions_ended": ended})
        request.scope["state"]["audited"] = True
    response: Response = RedirectResponse("/login", status_code=303)
    if principal is not None and principal.kind == "user" and principal.user_id is not None:
        from rexwatch.web.sso import provider_logout_page

        response = await provider_logout_page(request, principal.user_id) or response
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/setup")
async def setup_page(request: Request) -> Response:
    users = request.app.state.runtime.service(UserService)
    if await call(users.any_user):
        return RedirectResponse("/login", status_code=303)
    return _page(request, "setup.html", {"token": request.query_params.get("token", "")})


@router.post("/setup")
async def setup(request: Request) -> Response:
    fields = await check_csrf(request)
    rt = request.app.state.runtime
    users = rt.service(UserService)
    if await call(users.any_user):
        raise Forbidden("setup is done: an account exists already; sign in at /login")
    # With auth on, the page could be reached by anyone before the first admin exists: the
    # one-time token printed in the server log proves access to the server.
    if rt.settings.auth_enabled and not hmac.compare_digest(fields.get("token", ""), users.setup_token):
        return _page(request, "setup.html", {"token": "", "problem": "the setup token is wrong: copy it from the server log",
                                             "username": fields.get("username", "")}, status=403)
    if fields.get("password", "") != fields.get("password2", ""):
        return _page(request, "setup.html", {"token": fields.get("token", ""), "problem": "the passwords differ",
                                             "username": fields.get("username", "")}, status=400)
    try:
        user = await call(users.create, fields.get("username", ""), fields.get("password", ""), "admin")
    except RexwatchError as e:
        return _page(request, "setup.html", {"token": fields.get("token", ""), "problem": e.message,
                                             "username": fields.get("username", "")}, status=e.status)
    await call(rt.service(AuditService).record, None, "CREATE", "users", resource_id=user.username, door="console",
               actor="setup", ip=client_ip(request), user_agent=request.headers.get("user-agent", ""),
               after={"username": user.username, "role": user.role}, details={"role": user.role})
    request.scope.setdefault("state", {})["audited"] = True
    return RedirectResponse(url("/login", done=f"Admin {user.username} created: sign in."), status_code=303)

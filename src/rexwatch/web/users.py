"""The users page (admins only, like /api/v1/users): list users, create one, change a role,
disable or enable, reset a password to a random one shown once, log a user out everywhere, delete.

Every change goes through UserService and is recorded in the audit trail with the same fields as
the REST door's (a role change is an UPDATE of ``roles``, which the privilege-escalation rule
template watches). Forms are CSRF-checked POSTs; a page holding a new password is never cached.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rexwatch.api.auth import principal_of, require_admin
from rexwatch.errors import Invalid, RexwatchError
from rexwatch.services.access import ROLES
from rexwatch.services.audit import AuditService
from rexwatch.services.users import UserService
from rexwatch.web import templates
from rexwatch.web.common import call, check_csrf, csrf_token, set_csrf_cookie, url

# Admins only whatever the ``public`` setting opens: the console's gate skips public pages.
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_admin)])


async def _render(request: Request, issued: dict[str, str] | None = None, done: str | None = None) -> Response:
    svc = request.app.state.runtime.service(UserService)

    def rows() -> list[tuple[Any, int]]:
        return [(u, svc.count_sessions(u.username)) for u in svc.list()]

    me = principal_of(request)
    response = templates.TemplateResponse(request, "users.html", {
        "rows": await call(rows), "roles": ROLES, "issued": issued, "csrf": csrf_token(request),
        "done": done or request.query_params.get("done"), "problem": request.query_params.get("problem"),
        "me": me.name if me and me.kind == "user" else None,
    })
    if issued is not None:
        response.headers["Cache-Control"] = "no-store"  # the page holds a password
    return set_csrf_cookie(request, response)


@router.get("/users", response_class=HTMLResponse)
async def users_page(request: Request) -> Response:
    return await _render(request)


@router.post("/users/action")
async def users_action(request: Request) -> Response:
    fields = await check_csrf(request)
    rt = request.app.state.runtime
    svc = rt.service(UserService)
    action, username = fields.get("action", ""), fields.get("username", "").strip()
    issued: dict[str, str] | None = None
    try:
        if action == "create":
            password = fields.get("password", "")
            if password:
                user = await call(svc.create, username, password, fields.get("role", "viewer"))
            else:  # none given: a random one, shown once
                import secrets

                password = secrets.token_urlsafe(15)
                user = await call(svc.create, username, password, fields.get("role", "viewer"))
                issued = {"username": user.username, "password": password}
            event = ("CREATE", "users", {"after": {"username": user.username, "role": user.role},
                                         "details": {"role": user.role}})
            done = f"User {user.username} created as {user.role}."
        elif action == "role":
            before, after = await call(svc.set_role, username, fields.get("role", ""))
            # An UPDATE of "roles": what the privilege-escalation rule template watches.
            event = ("UPDATE", "roles", {"before": {"role": before.role}, "after": {"role": after.role},
                                         "details": {"role": after.role}})
            done = f"{username} is now {after.role} (their sessions ended)."
        elif action == "disable":
            await call(svc.disable, username)
            event = ("UPDATE", "users", {"before": {"disabled": False}, "after": {"disabled": True},
                                         "details": {"disabled": True, "sessions": "ended", "keys": "revoked"}})
            done = f"{username} is disabled: sessions ended, keys revoked."
        elif action == "enable":
            await call(svc.enable, username)
            event = ("UPDATE", "users", {"before": {"disabled": True}, "after": {"disabled": False},
                                         "details": {"disabled": False}})
            done = f"{username} is enabled."
        elif action == "reset-password":
            user, password = await call(svc.issue_password, username)
            issued = {"username": user.username, "password": password}
            event = ("UPDATE", "users", {"details": {"change": "password reset", "sessions": "ended"}})
            done = f"{username}'s password was reset; their sessions ended."
        elif action == "logout-everywhere":
            ended = await call(lambda: svc.logout_everywhere(svc.get(username).id))
            event = ("LOGOUT", "sessions", {"details": {"sessions_ended": ended}})
            done = f"{username} was logged out everywhere ({ended} session{'s' if ended != 1 else ''} ended)."
        elif action == "delete":
            user = await call(svc.delete, username)
            event = ("DELETE", "users", {"before": {"username": user.username, "role": user.role}})
            done = f"User {username} deleted; their keys are revoked."
        else:
            raise Invalid("action must be create, role, disable, enable, reset-password, logout-everywhere "
                          "or delete", field="action")
    except RexwatchError as e:
        return RedirectResponse(url("/users", problem=e.message), status_code=303)
    verb, resource, extra = event
    await call(rt.service(AuditService).record, principal_of(request), verb, resource,
               resource_id=issued["username"] if issued else username, door="console",
               ip=request.client.host if request.client else "",
               user_agent=request.headers.get("user-agent", ""), **extra)
    request.scope.setdefault("state", {})["audited"] = True
    if issued is not None:
        # The password is in this response only (never in a URL or a redirect).
        return await _render(request, issued, done)
    return RedirectResponse(url("/users", done=done), status_code=303)

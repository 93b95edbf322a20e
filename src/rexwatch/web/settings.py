"""Settings page: API keys (list, create with the secret shown once, revoke) and the retention of
each log group. Keys go through the key service (as ``rexwatch keys``), retention through
LogsService (PutRetentionPolicy / DeleteRetentionPolicy); changes are CSRF-checked POST forms."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rexwatch.api.auth import require_admin
from rexwatch.errors import Invalid, RexwatchError
from rexwatch.services.logs import LogsService
from rexwatch.services.logs.rules import RETENTION_DAYS
from rexwatch.web import templates
from rexwatch.web.common import call, check_csrf, csrf_token, fmt_bytes, set_csrf_cookie, url

# Key management needs an admin key when auth is on, whatever `public` says (as /api/v1/keys does):
# a console opened to everyone must not mint keys for everyone.
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_admin)])

MAX_GROUPS = 1000


def _groups(logs: LogsService, search: str) -> list[Any]:
    groups: list[Any] = []
    token = None
    while len(groups) < MAX_GROUPS:
        page, token = logs.describe_log_groups(pattern=search or None, next_token=token, limit=50)
        groups += page
        if not token:
            break
    return groups


async def _render(request: Request, new_key: Any = None, status: int = 200) -> Response:
    runtime = request.app.state.runtime
    q = request.query_params.get("q", "").strip()[:512]
    error = None
    groups: list[Any] = []
    try:
        groups = await call(_groups, runtime.service(LogsService), q)
    except RexwatchError as e:
        error = e.message
    keys = await call(runtime.keys.list, True)
    response = templates.TemplateResponse(request, "settings.html", {
        "keys": keys, "groups": groups, "q": q, "retention_days": RETENTION_DAYS, "new_key": new_key,
        "error": error, "csrf": csrf_token(request), "done": request.query_params.get("done"),
        "problem": request.query_params.get("problem"), "fmt_bytes": fmt_bytes,
        "auth_enabled": runtime.settings.auth_enabled,
        # The settings in force (files, environment and defaults merged), secrets masked, as
        # `rexwatch config show` prints them.
        "effective": sorted(runtime.settings.masked().items()),
    }, status_code=status)
    if new_key is not None:
        response.headers["Cache-Control"] = "no-store"  # the page holds a secret
    return set_csrf_cookie(request, response)


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request) -> Response:
    return await _render(request)


@router.post("/settings-action")
async def settings_action(request: Request) -> Response:
    fields = await check_csrf(request)
    action = fields.get("action", "")
    runtime = request.app.state.runtime
    try:
        if action == "create-key":
            # The secret is shown in this response only (never in a URL or a redirect).
            new = await call(runtime.keys.create, fields.get("name", ""), aws=fields.get("kind") == "aws",
                             role=fields.get("role", "admin"), scope=fields.get("scope") or None)
            return await _render(request, new_key=new)
        if action == "revoke-key":
            info = await call(runtime.keys.revoke, fields.get("key", ""))
            done = f"Key {info.name} ({info.prefix}) revoked."
        elif action == "retention":
            name, days = fields.get("group", ""), fields.get("days", "")
            logs = runtime.service(LogsService)
            if days in ("", "never"):
                await call(logs.delete_retention_policy, name)
                done = f"{name}: events never expire."
            elif days.isdigit():
                await call(logs.put_retention_policy, name, int(days))
                done = f"{name}: events are kept {days} days."
            else:
                raise Invalid(f"retention {days[:20]!r} is not a number of days", field="days")
        else:
            raise Invalid("action must be create-key, revoke-key or retention", field="action")
    except RexwatchError as e:
        return RedirectResponse(url("/settings", problem=e.message, q=fields.get("back_q", "")), status_code=303)
    return RedirectResponse(url("/settings", done=done, q=fields.get("back_q", "")), status_code=303)

"""The security page: detections (log alarms in ALARM and their keys, recent state changes), the
IP blocklist with unblock and the allowlist, the top failing IPs and users over time, and an audit
timeline with filters. Everything it shows comes from services (SecurityOverview, BlocklistService,
AuditService); its state (time range, sources, filters) lives in the URL.

Reading is for every role; blocking, unblocking and the allowlist are edits (editor or admin, as
the console's permission check says for every POST). rexwatch's own audit trail names people and
their addresses, so its timeline is shown to admins only, like /audit; an application's audit log
group is telemetry and readable like any log group.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rexwatch.errors import Invalid, RexwatchError, Unauthorized
from rexwatch.services.access import Principal, authorize
from rexwatch.services.audit import TIMELINE_FIELDS, AuditService, timeline_pattern
from rexwatch.services.security.blocklist import BlocklistService
from rexwatch.services.security.overview import AUDIT_TEMPLATES, LOGIN_TEMPLATES, SecurityOverview
from rexwatch.web import templates
from rexwatch.web.common import (
    RELATIVE,
    call,
    check_csrf,
    csrf_token,
    fmt_ms,
    set_csrf_cookie,
    time_range,
    url,
)

router = APIRouter(include_in_schema=False)

MAX_LOGIN_GROUPS = 20
TIMELINE_LIMIT = 200


def _principal(request: Request) -> Principal | None:
    return request.scope.get("state", {}).get("principal")


def _may(request: Request, action: str) -> bool:
    """What the caller's role allows (everything with auth off), to show only the forms it may use."""
    if not request.app.state.runtime.settings.auth_enabled:
        return True
    p = _principal(request)
    return p is not None and p.may(action)


def _chart_json(chart: Any) -> str:
    # The JSON sits in a <script> block: "</" must not end it.
    return json.dumps(chart.as_chart()).replace("</", "<\\/")


@router.get("/security", response_class=HTMLResponse)
async def security_page(request: Request) -> Response:
    rt = request.app.state.runtime
    q = request.query_params
    tr, range_problem = time_range(request, "1d")
    overview = rt.service(SecurityOverview)
    audit = rt.service(AuditService)
    problems: list[str] = [range_problem] if range_problem else []

    # htmx asks for the audit timeline alone when its filters change: compute only that.
    timeline_only = request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "audit"
    context: dict[str, Any] = {}
    if not timeline_only:
        context = await _overview(request, tr, problems)
    login_groups = context.get("login_groups") or _named_groups(request)
    # The audit timeline: rexwatch's own trail (admins) or an application's audit log group.
    audit_groups = [audit.group] + [g for g in await call(overview.template_groups, AUDIT_TEMPLATES)
                                    if g != audit.group]
    default_group = audit.group if _may(request, "admin") else (audit_groups[1:] or [audit.group])[0]
    audit_group = (q.get("audit_group") or default_group)[:512]
    if audit_group not in audit_groups:
        audit_groups.append(audit_group)
    filters = {f: (q.get(f) or "")[:200] for f in TIMELINE_FIELDS}
    events: list[dict] = []
    audit_note = audit_problem = None
    if audit_group == audit.group and not _may(request, "admin"):
        audit_note = "rexwatch's own audit trail names people and their addresses: it is shown to admins only."
    else:
        try:
            events = await call(audit.recent, group=audit_group, since_ms=tr.start_ms, until_ms=tr.end_ms,
                                pattern=timeline_pattern(filters), limit=TIMELINE_LIMIT)
        except RexwatchError as e:
            audit_problem = e.message

    response = templates.TemplateResponse(request, "_security_audit.html" if timeline_only else "security.html", {
        **context, "tr": tr, "relative": RELATIVE, "problems": problems, "login_groups": login_groups,
        "audit_groups": audit_groups, "audit_group": audit_group, "filters": filters, "events": events,
        "audit_note": audit_note, "audit_problem": audit_problem, "timeline_limit": TIMELINE_LIMIT, "may_edit": _may(request, "edit"),
        "csrf": csrf_token(request), "fmt_ms": fmt_ms, "done": q.get("done"), "problem": q.get("problem"),
    })
    return set_csrf_cookie(request, response)


def _named_groups(request: Request) -> list[str]:
    named = [g for v in request.query_params.getlist("login_group") for g in re.split(r"[\s,]+", v) if g]
    return list(dict.fromkeys(named))[:MAX_LOGIN_GROUPS]


async def _overview(request: Request, tr: Any, problems: list[str]) -> dict[str, Any]:
    """Detections, the blocklist and allowlist, and the failure charts."""
    rt = request.app.state.runtime
    q = request.query_params
    overview = rt.service(SecurityOverview)
    blocks = rt.service(BlocklistService)
    detections = await call(overview.detections)
    recent = await call(overview.recent, tr.start_ms, None if tr.since else tr.end_ms)
    entries = await call(blocks.entries)
    allowed = await call(blocks.allowlist)

    # The top failing IPs and users: log groups from the URL, or those the login templates watch.
    fields = await call(overview.login_fields)
    login_groups = _named_groups(request) or \
        await call(overview.template_groups, LOGIN_TEMPLATES)
    ip_field = q.get("ip_field") or fields["ip_field"]
    user_field = q.get("user_field") or fields["user_field"]
    message = q.get("message") or fields["message"]
    charts: dict[str, Any] = {}
    for key, by in (("ips", ip_field), ("users", user_field)):
        try:
            charts[key] = await call(overview.failures, login_groups, by, message=message,
                                     start_ms=tr.start_ms, end_ms=tr.end_ms)
        except RexwatchError as e:
            problems.append(f"top failing {key}: {e.message}")

    return {"detections": detections, "recent": recent, "entries": entries, "allowed": allowed, "charts": charts,
            "chart_json": {k: _chart_json(c) for k, c in charts.items()}, "login_groups": login_groups,
            "ip_field": ip_field, "user_field": user_field, "message": message, "security_group": blocks.group}


def require_edit(request: Request) -> None:
    """Editors and admins only, even when the ``public`` setting opens the console (the gate
    asks nobody then): an open page must not open the door to an attacker it blocked."""
    rt = request.app.state.runtime
    if not rt.settings.auth_enabled:
        return
    principal = _principal(request)
    if principal is None:
        from rexwatch.api.guard import resolve_principal

        principal = resolve_principal(rt, request.scope, dict(request.scope["headers"]))
    if principal is None:
        raise Unauthorized("a valid API key or console session is required")
    authorize(principal, "edit", f"{request.method} {request.url.path}")


@router.post("/security/blocklist", dependencies=[Depends(require_edit)])
async def blocklist_action(request: Request) -> Response:
    """Unblock, block, allow or disallow an address (a CSRF-checked form; editors and admins)."""
    fields = await check_csrf(request)
    rt = request.app.state.runtime
    blocks = rt.service(BlocklistService)
    action, ip = fields.get("action", ""), fields.get("ip", "").strip()
    principal = _principal(request)
    by = principal.actor if principal else "console"
    back = fields.get("back", "")
    back = back if back.startswith("/security") else "/security"
    try:
        if action == "unblock":
            await call(blocks.unblock, ip, by=by)
            done, verb, resource = f"{ip} unblocked.", "DELETE", "blocklist"
        elif action == "block":
            ttl_text = fields.get("ttl", "").strip()
            ttl = None if ttl_text in ("", "forever") else _seconds(ttl_text)
            entry = await call(blocks.block, ip, ttl=ttl, reason=fields.get("reason", "")[:1024], added_by=by)
            ip = entry.cidr
            done, verb, resource = f"{ip} blocked.", "CREATE", "blocklist"
        elif action == "allow":
            entry = await call(blocks.allow, ip, fields.get("note", "")[:1024])
            ip = entry.cidr
            done, verb, resource = f"{ip} allowlisted.", "CREATE", "allowlist"
        elif action == "disallow":
            await call(blocks.disallow, ip)
            done, verb, resource = f"{ip} removed from the allowlist.", "DELETE", "allowlist"
        else:
            raise Invalid("action must be unblock, block, allow or disallow", field="action")
    except RexwatchError as e:
        return RedirectResponse(_with(back, problem=e.message), status_code=303)
    await call(rt.service(AuditService).record, principal, verb, resource, resource_id=ip, door="console",
               ip=request.client.host if request.client else "", user_agent=request.headers.get("user-agent", ""),
               details={k: fields[k] for k in ("reason", "ttl", "note") if fields.get(k)})
    request.scope.setdefault("state", {})["audited"] = True
    return RedirectResponse(_with(back, done=done), status_code=303)


def _seconds(text: str) -> int:
    from rexwatch.timeparse import parse_duration

    try:
        return int(text) if text.isdigit() else int(parse_duration(text).total_seconds())
    except (ValueError, RexwatchError):
        raise Invalid(f"ttl {text[:20]!r} is not a duration (90, 30m, 1h, 7d or forever)", field="ttl")


def _with(back: str, **params: str) -> str:
    """``back`` (a /security URL with its own query) with done= or problem= replacing any old one."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(back)
    kept = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("done", "problem")]
    merged: dict[str, Any] = {}
    for k, v in kept:
        merged.setdefault(k, []).append(v)
    return url(parts.path or "/security", **merged, **params)

"""Public, read-only status pages (HTML + JSON), monitor badges and push (heartbeat) URLs.

Nothing here needs a login: a status page shows only the monitors its owner
put on it, a public badge exists only for monitors on some status page, and a
push URL's token is its own secret.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from rexwatch.api.responses import JSON
from rexwatch.errors import NotFound
from rexwatch.services.monitors import MonitorService
from rexwatch.web import templates

router = APIRouter(include_in_schema=False)

STATUS_WORDS = {
    "operational": "All systems operational",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "maintenance": "Under maintenance",
}


def _when(value: Any) -> str:
    """ISO-8601 text -> ``2026-11-24 21:29 UTC`` (in the viewer's chosen zone, see web/timezone.py)."""
    if not value:
        return ""
    from rexwatch.web.timezone import when

    return when(str(value), "%Y-%m-%d %H:%M", zone=True)


def _duration(seconds: float) -> str:
    s = round(seconds)
    days, rest = divmod(s, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes and not days:
        parts.append(f"{minutes} min")
    if not parts:
        parts.append(f"{secs} s")
    return " ".join(parts)


templates.env.filters["status_when"] = _when
templates.env.filters["status_duration"] = _duration


def _svc(request: Request) -> MonitorService:
    return request.app.state.runtime.service(MonitorService)


def _bar_class(day: dict[str, Any]) -> str:
    u = day["uptime"]
    if u is None:
        return "nodata"
    if u >= 99.9:
        return "good"
    if u >= 99.0:
        return "warn"
    return "bad"


@router.get("/status/{slug}.json")
def status_json(slug: str, request: Request) -> JSON:
    view = _svc(request).page_view(slug)
    return JSON(view, headers={"Cache-Control": "public, max-age=30", "Access-Control-Allow-Origin": "*"})


@router.get("/status/{slug}", response_class=HTMLResponse)
async def status_html(slug: str, request: Request) -> HTMLResponse:
    view = await run_in_threadpool(_svc(request).page_view, slug)
    for m in view["monitors"]:
        for d in m["days"]:
            d["cls"] = _bar_class(d)
    return templates.TemplateResponse(
        request,
        "status_page.html",
        {"page": view, "headline": STATUS_WORDS[view["status"]]},
        # The theme and time zone come from the viewer's cookies: a shared cache keys on them, and
        # never keeps an answer that sets one (?theme= or ?tz= in the address).
        headers={"Cache-Control": "private, max-age=30" if {"theme", "tz"} & set(request.query_params)
                 else "public, max-age=30", "Vary": "Cookie"},
    )


@router.get("/badge/{ident}.svg")
def badge(ident: str, request: Request, show: str = "status", label: str | None = None) -> Response:
    svc = _svc(request)
    monitor = svc.repo.find_monitor(ident) if ident.isascii() and ident.isdigit() else None
    public = monitor is not None and any(monitor["id"] in p["monitor_ids"] for p in svc.repo.list_pages())
    if not public:
        raise NotFound(f"no public badge for monitor {ident!r}: put the monitor on a status page")
    svg = svc.badge(monitor["id"], label=label, show="uptime" if show == "uptime" else "status")
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-cache, max-age=0"})


@router.api_route("/push/{token}", methods=["GET", "POST", "HEAD"])
def push(token: str, request: Request) -> JSON:
    return JSON(_svc(request).ping(token))

"""The overview page: store health and where to go next."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from rexwatch.stores.control.engine import ping as ping_control
from rexwatch.web import templates

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    rt = request.app.state.runtime
    stores = {}
    for name, check in (("Telemetry store", rt.telemetry.ping), ("Control store", lambda: ping_control(rt.control))):
        try:
            check()
            stores[name] = "up"
        except Exception:
            stores[name] = "down"
    return templates.TemplateResponse(
        request,
        "overview.html",
        {"stores": stores, "settings": rt.settings, "auth": rt.settings.auth_enabled},
    )

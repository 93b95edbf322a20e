"""REST: /api/v1/monitors, /maintenance-windows, /target-groups, /status-pages, /push.

Thin: bodies are passed to the services, which validate them and raise domain errors.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import Response

from rexwatch.api.auth import get_runtime
from rexwatch.runtime import Runtime
from rexwatch.services.monitors import MonitorService, TargetGroupService

router = APIRouter()
mon = APIRouter(prefix="/monitors", tags=["monitors"])
mw = APIRouter(prefix="/maintenance-windows", tags=["monitors"])
tg = APIRouter(prefix="/target-groups", tags=["target-groups"])
sp = APIRouter(prefix="/status-pages", tags=["status-pages"])
push = APIRouter(prefix="/push", tags=["monitors"])


def monitors(rt: Runtime = Depends(get_runtime)) -> MonitorService:
    return rt.service(MonitorService)


def groups(rt: Runtime = Depends(get_runtime)) -> TargetGroupService:
    return rt.service(TargetGroupService)


def _since(value: str | None) -> float | None:
    if value is None:
        return None
    from rexwatch.errors import Invalid
    from rexwatch.timeparse import parse_time

    try:
        return parse_time(value).timestamp()
    except Invalid:
        raise
    except Exception as e:
        raise Invalid(f"since: {e}", field="since")


# Monitors ------------------------------------------------------------------------------------------------


@mon.get("")
def list_monitors(svc: MonitorService = Depends(monitors)) -> list[dict[str, Any]]:
    return svc.list()


@mon.post("", status_code=201)
def create_monitor(body: dict[str, Any] = Body(...), svc: MonitorService = Depends(monitors)) -> dict[str, Any]:
    return svc.create(body)


@mon.post("/apply")
def apply_monitors(body: dict[str, Any] = Body(...), svc: MonitorService = Depends(monitors)) -> dict[str, Any]:
    return svc.apply(body.get("monitors"), prune=bool(body.get("prune", False)))


@mon.get("/{ident}")
def get_monitor(ident: str, svc: MonitorService = Depends(monitors)) -> dict[str, Any]:
    return svc.get(ident)


@mon.patch("/{ident}")
def update_monitor(
    ident: str, body: dict[str, Any] = Body(...), svc: MonitorService = Depends(monitors)
) -> dict[str, Any]:
    return svc.update(ident, body)


@mon.post("/{ident}/pause")
def pause_monitor(ident: str, svc: MonitorService = Depends(monitors)) -> dict[str, Any]:
    return svc.set_paused(ident, True)


@mon.post("/{ident}/resume")
def resume_monitor(ident: str, svc: MonitorService = Depends(monitors)) -> dict[str, Any]:
    return svc.set_paused(ident, False)


@mon.delete("/{ident}")
def delete_monitor(ident: str, svc: MonitorService = Depends(monitors)) -> dict[str, Any]:
    return svc.delete(ident)


@mon.get("/{ident}/history")
def monitor_history(
    ident: str,
    since: str | None = None,
    limit: int = Query(100, ge=1, le=10_000),
    svc: MonitorService = Depends(monitors),
) -> dict[str, Any]:
    return svc.history(ident, _since(since), limit)


@mon.get("/{ident}/badge.svg", include_in_schema=False)
def monitor_badge(ident: str, show: str = "status", svc: MonitorService = Depends(monitors)) -> Response:
    return Response(svc.badge(ident, show=show), media_type="image/svg+xml")


# Maintenance windows --------------------------------------------------------------------------------------


@mw.get("")
def list_windows(svc: MonitorService = Depends(monitors)) -> list[dict[str, Any]]:
    return svc.list_windows()


@mw.post("", status_code=201)
def create_window(body: dict[str, Any] = Body(...), svc: MonitorService = Depends(monitors)) -> dict[str, Any]:
    return svc.create_window(body)


@mw.delete("/{wid}", status_code=204)
def delete_window(wid: int, svc: MonitorService = Depends(monitors)) -> Response:
    svc.delete_window(wid)
    return Response(status_code=204)


# Target groups --------------------------------------------------------------------------------------------


def _group_ident(body: dict[str, Any]) -> str:
    from rexwatch.errors import Invalid

    ident = body.get("target_group") or body.get("TargetGroupArn") or body.get("target_group_arn")
    if not isinstance(ident, str) or not ident:
        raise Invalid("target_group (name or ARN) is required", field="target_group")
    return ident


@tg.get("")
def list_groups(svc: TargetGroupService = Depends(groups)) -> list[dict[str, Any]]:
    return svc.list()


@tg.post("", status_code=201)
def create_group(body: dict[str, Any] = Body(...), svc: TargetGroupService = Depends(groups)) -> dict[str, Any]:
    return svc.create(body)


@tg.post("/register-targets")
def register_targets(body: dict[str, Any] = Body(...), svc: TargetGroupService = Depends(groups)) -> dict[str, Any]:
    return svc.register(_group_ident(body), body.get("targets") or body.get("Targets"))


@tg.post("/deregister-targets")
def deregister_targets(
    body: dict[str, Any] = Body(...), svc: TargetGroupService = Depends(groups)
) -> dict[str, Any]:
    return svc.deregister(_group_ident(body), body.get("targets") or body.get("Targets"))


@tg.post("/describe-target-health")
def describe_target_health(
    body: dict[str, Any] = Body(...), svc: TargetGroupService = Depends(groups)
) -> dict[str, Any]:
    return svc.describe_health(_group_ident(body), body.get("targets") or body.get("Targets"))


@tg.get("/history")
def group_history(
    target_group: str,
    since: str | None = None,
    limit: int = Query(100, ge=1, le=10_000),
    svc: TargetGroupService = Depends(groups),
) -> dict[str, Any]:
    import time

    now = time.time()
    return svc.history(target_group, _since(since) or now - 86_400, now, limit)


@tg.get("/{ident:path}")
def get_group(ident: str, svc: TargetGroupService = Depends(groups)) -> dict[str, Any]:
    return svc.get(ident)


@tg.patch("/{ident:path}")
def modify_group(
    ident: str, body: dict[str, Any] = Body(...), svc: TargetGroupService = Depends(groups)
) -> dict[str, Any]:
    return svc.modify(ident, body)


@tg.delete("/{ident:path}", status_code=204)
def delete_group(ident: str, svc: TargetGroupService = Depends(groups)) -> Response:
    svc.delete(ident)
    return Response(status_code=204)


# Status pages --------------------------------------------------------------------------------------------


@sp.get("")
def list_pages(svc: MonitorService = Depends(monitors)) -> list[dict[str, Any]]:
    return svc.list_pages()


@sp.post("", status_code=201)
def create_page(body: dict[str, Any] = Body(...), svc: MonitorService = Depends(monitors)) -> dict[str, Any]:
    return svc.create_page(body)


@sp.get("/{slug}")
def get_page(slug: str, svc: MonitorService = Depends(monitors)) -> dict[str, Any]:
    return svc.get_page(slug)


@sp.get("/{slug}/summary")
def page_summary(slug: str, svc: MonitorService = Depends(monitors)) -> dict[str, Any]:
    return svc.page_view(slug)


@sp.patch("/{slug}")
def update_page(slug: str, body: dict[str, Any] = Body(...), svc: MonitorService = Depends(monitors)) -> dict:
    return svc.update_page(slug, body)


@sp.delete("/{slug}", status_code=204)
def delete_page(slug: str, svc: MonitorService = Depends(monitors)) -> Response:
    svc.delete_page(slug)
    return Response(status_code=204)


# Push (heartbeat) ----------------------------------------------------------------------------------------


@push.post("/{token}")
def push_ping(token: str, svc: MonitorService = Depends(monitors)) -> dict[str, Any]:
    return svc.ping(token)


@push.get("/{token}")
def push_ping_get(token: str, svc: MonitorService = Depends(monitors)) -> dict[str, Any]:
    return svc.ping(token)


for _r in (mon, mw, tg, sp, push):
    router.include_router(_r)

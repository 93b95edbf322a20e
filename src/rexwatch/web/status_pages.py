"""Status page management in the console: the list of public status pages, a form to create or
edit one (title, description, which monitors it shows), a preview of what it would show before
it is saved, and delete. Everything goes through MonitorService, as /api/v1/status-pages does;
the public pages themselves are web/status.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from rexwatch.errors import Invalid, NotFound, RexwatchError
from rexwatch.services.monitors import MonitorService
from rexwatch.web import templates
from rexwatch.web.common import call, check_csrf, csrf_token, set_csrf_cookie, url
from rexwatch.web.status import STATUS_WORDS, _bar_class

router = APIRouter(include_in_schema=False)

PREVIEW_DAYS = 30  # the preview's uptime bars (the public page shows 90)


def _svc(request: Request) -> MonitorService:
    return request.app.state.runtime.service(MonitorService)


def _pages(svc: MonitorService) -> list[dict[str, Any]]:
    names = {m["id"]: m["name"] for m in svc.list()}
    return [{**p, "monitor_names": [names.get(i, f"#{i}") for i in p["monitors"]]} for p in svc.list_pages()]


@router.get("/status-pages", response_class=HTMLResponse)
async def pages_list(request: Request) -> HTMLResponse:
    svc = _svc(request)
    pages = await call(_pages, svc)
    response = templates.TemplateResponse(request, "status_pages.html", {
        "pages": pages, "csrf": csrf_token(request), "done": request.query_params.get("done"),
        "problem": request.query_params.get("problem")})
    return set_csrf_cookie(request, response)


async def _render_edit(request: Request, svc: MonitorService, form: dict[str, Any], existing: str,
                       preview: bool) -> HTMLResponse:
    monitors = await call(svc.list)
    ctx: dict[str, Any] = {"monitors": monitors, "csrf": csrf_token(request), "error": None, "view": None,
                           "existing": existing, "words": STATUS_WORDS, "form": form, "previewed": preview,
                           "problem": request.query_params.get("problem"), "done": request.query_params.get("done")}
    status = 200
    if preview or existing:
        try:
            view = await call(svc.preview_page, {**form, "slug": form["slug"] or "preview"}, PREVIEW_DAYS)
            for m in view["monitors"]:
                for d in m["days"]:
                    d["cls"] = _bar_class(d)
            ctx["view"] = view
        except RexwatchError as e:
            ctx["error"] = e.message
            status = 400
    response = templates.TemplateResponse(request, "status_page_edit.html", ctx, status_code=status)
    return set_csrf_cookie(request, response)


@router.get("/status-pages/edit", response_class=HTMLResponse)
async def edit_page(request: Request, existing: str = "", slug: str = "", title: str = "", description: str = "",
                    monitor: list[str] | None = Query(None)) -> HTMLResponse:
    """The form for a new page (its fields may come from the address, as after a refused save)
    or for an existing one, which is previewed as saved."""
    svc = _svc(request)
    if existing:
        try:
            page = await call(svc.get_page, existing)
        except NotFound as e:
            return templates.TemplateResponse(request, "status_pages.html", {
                "pages": await call(_pages, svc), "csrf": csrf_token(request), "problem": e.message, "done": None},
                status_code=404)
        form = {"slug": page["slug"], "title": page["title"], "description": page["description"],
                "monitors": [str(i) for i in page["monitors"]]}
    else:
        form = {"slug": slug, "title": title, "description": description,
                "monitors": [m for m in (monitor or []) if m][:200]}
    return await _render_edit(request, svc, form, existing, preview=False)


@router.post("/status-pages/preview", response_class=HTMLResponse)
async def preview_page(request: Request) -> HTMLResponse:
    """What the form's page would show, before it is saved."""
    fields = await check_csrf(request)
    form = await request.form()
    existing = fields.get("existing", "")
    data = {"slug": existing or fields.get("slug", ""), "title": fields.get("title", ""),
            "description": fields.get("description", ""),
            "monitors": [m for m in form.getlist("monitor") if isinstance(m, str) and m][:200]}
    return await _render_edit(request, _svc(request), data, existing, preview=True)


@router.post("/status-pages-action")
async def status_page_action(request: Request) -> RedirectResponse:
    fields = await check_csrf(request)
    form = await request.form()
    svc = _svc(request)
    action, existing = fields.get("action", ""), fields.get("existing", "")
    chosen = [m for m in form.getlist("monitor") if isinstance(m, str) and m][:200]
    data = {"title": fields.get("title", ""), "description": fields.get("description", ""), "monitors": chosen}
    try:
        if action == "save" and existing:
            page = await call(svc.update_page, existing, data)
            return RedirectResponse(url("/status-pages/edit", existing=page["slug"], done="Saved."), status_code=303)
        if action == "save":
            page = await call(svc.create_page, {**data, "slug": fields.get("slug", "")})
            return RedirectResponse(url("/status-pages/edit", existing=page["slug"], done="Created."), status_code=303)
        if action == "delete":
            await call(svc.delete_page, existing)
            return RedirectResponse(url("/status-pages", done=f"Deleted {existing}."), status_code=303)
        raise Invalid("action must be save or delete", field="action")
    except NotFound:
        raise
    except RexwatchError as e:
        back = {"slug": fields.get("slug", ""), "title": data["title"], "description": data["description"],
                "monitor": chosen}
        if existing:  # an existing page's form shows it as saved, with the refusal
            back = {"existing": existing}
        return RedirectResponse(url("/status-pages/edit", problem=e.message, **back), status_code=303)

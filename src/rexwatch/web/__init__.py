"""Server-rendered web UI (Jinja2). Pages register in ``PAGES``; adding a page family is one line."""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from rexwatch import __version__
from rexwatch.runtime import Runtime
from rexwatch.web import theme as _theme
from rexwatch.web import timezone as _tz

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["version"] = __version__
templates.env.filters["when"] = _tz.when
templates.env.globals["tz"] = _tz.current
templates.env.globals["tz_label"] = _tz.label
templates.env.globals["theme"] = _theme.chosen
templates.env.globals["themes"] = _theme.THEMES

PAGES: tuple[str, ...] = (
    "rexwatch.web.overview",
    "rexwatch.web.logs",
    "rexwatch.web.insights",
    "rexwatch.web.metrics",
    "rexwatch.web.traces",
    "rexwatch.web.alarms",
    "rexwatch.web.monitors",
    "rexwatch.web.notifications",
    "rexwatch.web.settings",
    "rexwatch.web.dashboards",
    "rexwatch.web.notify",
    "rexwatch.web.status",
    "rexwatch.web.status_pages",
    "rexwatch.web.apidocs",
    "rexwatch.web.account",
    "rexwatch.web.sso",
    "rexwatch.web.recovery",
    "rexwatch.web.twofactor",
    "rexwatch.web.audit",
    "rexwatch.web.security",
    "rexwatch.web.users",
)


def install(app: FastAPI, runtime: Runtime) -> None:
    from rexwatch.web.errors import html_error
    from rexwatch.web.timezone import TimezoneMiddleware

    app.state.html_error = html_error  # api/errors.py answers a browser's failed page with a page
    app.add_middleware(TimezoneMiddleware)
    app.add_middleware(_theme.ThemeMiddleware)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for dotted in PAGES:
        app.include_router(importlib.import_module(dotted).router)

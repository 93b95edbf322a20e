"""The console's colour theme: ``system`` (the browser's light or dark preference, the default),
``dark`` or ``light``.

The choice lives in a cookie. The server renders it as ``<html data-theme=…>``, so the first paint
already has the right colours (no flash of the other theme); ``app.css`` keys its colours on that
attribute and, for ``system``, on ``prefers-color-scheme``. The header's switch sets the cookie from
console.js; without JavaScript it submits ``?theme=…``, which this middleware remembers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import Request

THEMES = ("system", "dark", "light")
COOKIE = "rexwatch_theme"


def chosen(request: Request) -> str:
    """The request's theme: the URL's ``theme``, else the cookie's, else ``system``."""
    for value in (request.query_params.get("theme"), request.cookies.get(COOKIE)):
        if value in THEMES:
            return value
    return "system"


class ThemeMiddleware:
    """Remembers a ``theme`` given in the URL in the cookie."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("theme", [None])[0]
        if value not in THEMES:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Any) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{COOKIE}={value}; Path=/; Max-Age=34560000; SameSite=Lax"
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode("latin-1")))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

"""The console's timezone: every page shows times in UTC or in the user's local zone.

The preference (``utc`` or ``local``, or an IANA zone name) comes from the URL's ``tz``
parameter, which also stores it in a cookie, or else from that cookie. "Local" is the
browser's zone: console.js reports it in a second cookie (``Intl`` knows it, the server
cannot), and until it has, times show in UTC. A pure ASGI middleware puts the zone in a
context variable for the request, so every formatter (``fmt_ms``, the ``when`` filter,
the pages' own helpers) reads it without being handed the request.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PREF_COOKIE = "rexwatch_tz"
ZONE_COOKIE = "rexwatch_tzname"  # set by console.js: the browser's IANA zone
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-/]{0,63}\Z")


class Display:
    """The request's display zone and the preference it came from."""

    def __init__(self, pref: str = "utc", zone: dt.tzinfo = dt.UTC, name: str = "UTC") -> None:
        self.pref, self.zone, self.name = pref, zone, name


_UTC = Display()
_DISPLAY: ContextVar[Display | None] = ContextVar("rexwatch_display_tz", default=None)


def current() -> Display:
    return _DISPLAY.get() or _UTC


def zone_named(name: str | None) -> ZoneInfo | None:
    if not name or not _ZONE_NAME.match(name) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def resolve(pref: str | None, browser_zone: str | None) -> Display:
    """``utc`` (the default), ``local`` (the browser's zone, when it has told us) or a zone name."""
    pref = (pref or "utc").strip()
    if pref.lower() == "utc":
        return Display()
    if pref.lower() == "local":
        z = zone_named(browser_zone)
        return Display("local", z, browser_zone or "UTC") if z else Display("local")
    z = zone_named(pref)
    return Display(pref, z, pref) if z else Display()


def localize(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:  # the stores hand out naive UTC in places
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(current().zone)


def when(value: Any, fmt: str = "%Y-%m-%d %H:%M:%S", zone: bool = False) -> str:
    """A datetime, or epoch milliseconds, in the display zone (``zone`` appends its name)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, int | float):
        value = dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    elif isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    text = localize(value).strftime(fmt)
    return f"{text} {label()}" if zone else text


def label() -> str:
    d = current()
    return "UTC" if d.zone is dt.UTC else localize(dt.datetime.now(dt.UTC)).strftime("%Z") or d.name


Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class TimezoneMiddleware:
    """Sets the request's display zone; a ``tz`` in the URL is remembered in the cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies: SimpleCookie = SimpleCookie()
        for k, v in scope.get("headers", []):
            if k == b"cookie":
                try:
                    cookies.load(v.decode("latin-1"))
                except Exception:  # a malformed cookie header leaves the default
                    pass
        from_url = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("tz", [None])[0]
        pref = from_url or (cookies[PREF_COOKIE].value if PREF_COOKIE in cookies else None)
        browser = cookies[ZONE_COOKIE].value if ZONE_COOKIE in cookies else None
        display = resolve(pref, browser)
        token = _DISPLAY.set(display)
        remember = from_url is not None and display.pref != (cookies[PREF_COOKIE].value if PREF_COOKIE in cookies
                                                             else None)

        async def send_with_cookie(message: Any) -> None:
            if remember and message["type"] == "http.response.start":
                value = f"{PREF_COOKIE}={display.pref}; Path=/; Max-Age=34560000; SameSite=Lax"
                message.setdefault("headers", []).append((b"set-cookie", value.encode("latin-1")))
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            _DISPLAY.reset(token)

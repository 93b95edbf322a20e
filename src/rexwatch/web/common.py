"""What every console page shares: the time range kept in the URL, CSRF for forms that change
state, running blocking service calls off the event loop, and turning JSON into clickable HTML.

Pages call services (never stores); a ``RexwatchError`` from a service is shown on the page
with its message instead of failing the request.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio
import orjson
from fastapi import Request
from fastapi.responses import Response
from markupsafe import Markup, escape

from rexwatch.errors import Forbidden, Invalid, RexwatchError
from rexwatch.timeparse import parse_duration, parse_time, to_millis
from rexwatch.web.timezone import when

T = TypeVar("T")

# The relative ranges the picker offers; any duration parse_duration accepts works in the URL too.
RELATIVE = ("5m", "15m", "1h", "3h", "12h", "1d", "3d", "7d", "30d")
# Auto refresh: the page reloads itself (a relative range moves with now) every so many seconds.
REFRESH = {"10s": 10, "30s": 30, "1m": 60, "5m": 300, "15m": 900}


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking service call in a worker thread (the stores block)."""
    return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))


@dataclass(frozen=True)
class TimeRange:
    """A time range from the URL: ``since=1h`` (relative to now) or ``start=…&end=…``."""

    since: str | None
    start: str
    end: str
    start_ms: int
    end_ms: int
    refresh: str = ""  # auto refresh: one of REFRESH, or "" for off

    def params(self) -> dict[str, str]:
        out = {"since": self.since} if self.since else {"start": self.start, "end": self.end}
        if self.refresh:
            out["refresh"] = self.refresh
        return out

    @property
    def label(self) -> str:
        return f"last {self.since}" if self.since else f"{self.start} – {self.end}"


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def time_range(request: Request, default: str = "1h") -> tuple[TimeRange, str | None]:
    """The page's time range and, when the URL's was unusable, why (the default is used then)."""
    tr, problem = _time_range(request, default)
    refresh = request.query_params.get("refresh", "")
    if refresh in REFRESH:
        tr = TimeRange(tr.since, tr.start, tr.end, tr.start_ms, tr.end_ms, refresh)
    return tr, problem


def _time_range(request: Request, default: str) -> tuple[TimeRange, str | None]:
    q = request.query_params
    now = dt.datetime.now(dt.UTC)
    try:
        if q.get("start") or q.get("end"):
            start = parse_time(q.get("start") or "", now=now)
            end = parse_time(q.get("end"), now=now) if q.get("end") else now
            if end < start:
                raise Invalid("the end of the time range is before its start")
            s_ms, e_ms = to_millis(start), to_millis(end)
            return TimeRange(None, _iso(s_ms), _iso(e_ms), s_ms, e_ms), None
        since = q.get("since") or default
        span = parse_duration(since)
        if span <= dt.timedelta(0) or span > dt.timedelta(days=3650):
            raise Invalid(f"{since!r} is not a duration from 1s to 3650d")
        e_ms = to_millis(now)
        s_ms = e_ms - int(span.total_seconds() * 1000)
        return TimeRange(since, _iso(s_ms), _iso(e_ms), s_ms, e_ms), None
    except (RexwatchError, ValueError, OverflowError) as e:
        fallback, _ = time_range_for(default)
        return fallback, f"time range not used: {getattr(e, 'message', e)}"


def time_range_for(since: str) -> tuple[TimeRange, None]:
    e_ms = to_millis(dt.datetime.now(dt.UTC))
    s_ms = e_ms - int(parse_duration(since).total_seconds() * 1000)
    return TimeRange(since, _iso(s_ms), _iso(e_ms), s_ms, e_ms), None


def url(path: str, **params: Any) -> str:
    """``path`` with the non-empty ``params`` as its query string (lists repeat the key)."""
    items = []
    for k, v in params.items():
        for one in v if isinstance(v, list | tuple) else [v]:
            if one not in (None, ""):
                items.append((k, one))
    return path + ("?" + urlencode(items) if items else "")


def fmt_ms(ms: int | None) -> str:
    """Epoch milliseconds in the request's display zone (UTC or the user's, see web/timezone.py)."""
    if ms is None:
        return "—"
    return when(ms)


def fmt_bytes(n: int | float | None) -> str:
    if not n:
        return "0 B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


# CSRF: the double-submit pattern. A random token lives in a SameSite=Strict cookie and must come
# back in the form's ``csrf`` field; another site can make a browser send the cookie but cannot read
# it to fill the field.
CSRF_COOKIE = "rexwatch_csrf"


def csrf_token(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE)
    if not token or not re.fullmatch(r"[A-Za-z0-9_-]{32,64}", token):
        token = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


def set_csrf_cookie(request: Request, response: Response) -> Response:
    new = getattr(request.state, "new_csrf", None)
    if new:
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict", path="/")
    return response


async def check_csrf(request: Request) -> dict[str, str]:
    """The submitted form's fields, after checking its CSRF token against the cookie."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = fields.get("csrf", "")
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise Forbidden("the form's CSRF token is missing or stale: reload the page and try again")
    return fields


# JSON messages as HTML: every leaf value is a button carrying the filter-pattern condition that
# selects events with that value, so a click narrows the search to it.
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
MAX_JSON_NODES = 2000


def parse_json_message(message: str) -> Any:
    """The message's JSON object or array, or None when it is not one."""
    text = message.strip()
    if not text or text[0] not in "{[":
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _condition(path: str | None, value: Any) -> str | None:
    if path is None:
        return None
    if value is None:
        return f"$.{path} IS NULL"
    if isinstance(value, bool):
        return f"$.{path} IS {'TRUE' if value else 'FALSE'}"
    if isinstance(value, int | float):
        return f"$.{path} = {value}"
    if isinstance(value, str):
        # Quoted strings in filter patterns take backslash escapes; * is a wildcard, so a value
        # holding one (or a newline) cannot be matched exactly and gets no filter.
        if "*" in value or "\n" in value or len(value) > 200:
            return None
        return f'$.{path} = "' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return None


def json_html(value: Any) -> Markup:
    """Pretty-printed JSON with clickable leaf values; every string is escaped."""
    out: list[str] = []
    budget = [MAX_JSON_NODES]

    def leaf(path: str | None, v: Any) -> None:
        text = orjson.dumps(v).decode()
        kind = "null" if v is None else "bool" if isinstance(v, bool) else \
            "num" if isinstance(v, int | float) else "str"
        cond = _condition(path, v)
        if cond:
            out.append(f'<button type="button" class="jv jv-{kind}" data-cond="{escape(cond)}" '
                       f'title="Filter on {escape(cond)}">{escape(text)}</button>')
        else:
            out.append(f'<span class="jv jv-{kind}">{escape(text)}</span>')

    def walk(path: str | None, v: Any, indent: int) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            out.append("…")
            return
        pad = "  " * (indent + 1)
        if isinstance(v, dict):
            if not v:
                out.append("{}")
                return
            out.append("{\n")
            for i, (k, child) in enumerate(v.items()):
                key = str(k)
                child_path = None
                if path is not None and _KEY.match(key):
                    child_path = f"{path}.{key}" if path else key
                out.append(f'{pad}<span class="jk">{escape(orjson.dumps(key).decode())}</span>: ')
                walk(child_path, child, indent + 1)
                out.append(",\n" if i < len(v) - 1 else "\n")
            out.append("  " * indent + "}")
        elif isinstance(v, list):
            if not v:
                out.append("[]")
                return
            out.append("[\n")
            for i, child in enumerate(v):
                out.append(pad)
                walk(f"{path}[{i}]" if path else None, child, indent + 1)
                out.append(",\n" if i < len(v) - 1 else "\n")
            out.append("  " * indent + "]")
        else:
            leaf(path, v)

    walk("" if isinstance(value, dict) else None, value, 0)
    return Markup("".join(out))


def error_parts(e: RexwatchError, text: str) -> dict[str, Any]:
    """An error for a page: the message and, for a query or pattern error, where it points."""
    start = getattr(e, "start", None)
    if start is None or not isinstance(text, str):
        return {"message": e.message}
    start = max(0, min(start, len(text)))
    end = max(start, min(getattr(e, "end", start + 1), len(text)))
    return {"message": e.message, "start": start, "end": end, "before": text[:start],
            "bad": text[start:end] or " ", "after": text[end:], "detail": getattr(e, "detail", e.message)}

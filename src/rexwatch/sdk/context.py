"""The current request: its ID, what the log lines need, and its sampling decision.

One ``RequestContext`` per request lives in a contextvar, so threads (WSGI),
tasks (ASGI) and code called from them all see their own request.

Sampling is decided once per request, so its lines are kept or dropped
together. A request on a sampled route holds its lines (up to
``MAX_HELD_LINES``) until it ends: an error (status >= 400, or any line at
WARNING or above) keeps them all, unscaled; otherwise they are kept with
probability ``sample_rate``, each carrying ``sample_rate`` so counts scale back up.
"""

from __future__ import annotations

import itertools
import os
import random
import re
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

# Lines a dropped-so-far request may hold while it waits to learn whether it failed.
MAX_HELD_LINES = 200
_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# The same rule for a header value still in bytes (ASGI): no decoding unless it passes.
ID_OK_BYTES = re.compile(rb"[A-Za-z0-9._:-]{1,128}")  # used with fullmatch

_current: ContextVar[RequestContext | None] = ContextVar("rexwatch_request", default=None)


def new_request_id() -> str:
    """A UUID-shaped ID: 80 random bits per process (drawn again in forked children) and a counter.
    IDs must be unique, not secret; drawing 128 random bits and formatting them per request cost a
    microsecond, this costs a tenth of that."""
    return _prefix + hex(next(_counter))[2:]


# The counter starts at 2**44 plus 43 random bits, so its hex form is 12 digits without padding
# for the next 2.5e14 IDs.
_prefix = ""
_counter = itertools.count()


def _new_id_prefix() -> None:
    """A fresh random prefix (version-4 and variant bits set) and a counter from a random start."""
    global _prefix, _counter
    h = f"{random.SystemRandom().getrandbits(80):020x}"
    _prefix = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-"
    _counter = itertools.count((1 << 44) + random.SystemRandom().getrandbits(43))


_new_id_prefix()
os.register_at_fork(after_in_child=_new_id_prefix)


def clean_request_id(value: str | None) -> str:
    """Keep a client's X-Request-ID when it is a sane token (so IDs follow a request across services)."""
    if value and _ID_OK.match(value):
        return value
    return new_request_id()


class Sampler:
    """Per-route sample rates; routes are matched by template (``/items/{id}``) or path."""

    def __init__(self, rates: dict[str, float] | None = None, default: float = 1.0) -> None:
        self.rates = dict(rates or {})
        self.default = default
        self.random = random.random

    def rate_for(self, route: str | None, path: str) -> float:
        if route is not None and route in self.rates:
            return self.rates[route]
        return self.rates.get(path, self.default)


class RequestContext:
    __slots__ = ("decided", "held", "kept", "method", "otel_token", "path", "request_id", "route", "route_of",
                 "sample_rate", "sampler", "span", "span_id", "status", "token", "trace_id", "tracing")

    def __init__(self, request_id: str, method: str, path: str, sampler: Sampler | None,
                 route_of: Callable[[], str | None] | None = None) -> None:
        self.request_id = request_id
        self.method = method
        self.path = path
        self.route: str | None = None
        self.route_of = route_of
        self.status: int | None = None
        self.sampler = sampler
        self.sample_rate = 1.0
        self.decided = sampler is None or (not sampler.rates and sampler.default >= 1.0)
        self.kept = self.decided
        self.held: list[tuple[str, int, str]] | None = None
        self.token: Any = None
        self.trace_id: str | None = None
        self.span_id: str | None = None
        self.span: Any = None  # the request's OpenTelemetry span while tracing is on
        self.otel_token: Any = None
        self.tracing: Any = None  # the Tracing that opened the span: it closes it, even after a reconfigure

    def resolve_route(self) -> str | None:
        if self.route is None and self.route_of is not None:
            try:
                self.route = self.route_of()
            except Exception:
                self.route = None
        return self.route

    def rate(self) -> float:
        """This request's sample rate, from its route template when known by now, else its path."""
        if self.sampler is None:
            return 1.0
        self.sample_rate = self.sampler.rate_for(self.resolve_route(), self.path)
        return self.sample_rate

    def roll(self) -> bool:
        """Decide a sampled request that ended without error: kept with probability ``sample_rate``."""
        self.decided = True
        self.kept = self.sampler is None or self.sampler.random() < self.sample_rate
        return self.kept

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"request_id": self.request_id, "method": self.method, "path": self.path}
        if self.sample_rate < 1.0:
            out["sample_rate"] = self.sample_rate
        return out


_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace ID of a W3C ``traceparent`` header, so log lines join the caller's trace."""
    if not traceparent:
        return None
    m = _TRACEPARENT.match(traceparent.strip())
    if m is None or m.group(1) == "0" * 32:
        return None
    return m.group(1)


def current() -> RequestContext | None:
    return _current.get()


def request_id() -> str | None:
    """The current request's ID (also in ``X-Request-ID``), or None outside a request."""
    ctx = _current.get()
    return ctx.request_id if ctx is not None else None


def enter(ctx: RequestContext) -> None:
    ctx.token = _current.set(ctx)


def leave(ctx: RequestContext) -> None:
    if ctx.token is not None:
        try:
            _current.reset(ctx.token)
        except ValueError:  # reset from another context (a framework hopped threads): clear instead
            _current.set(None)
        ctx.token = None

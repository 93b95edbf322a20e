"""What every framework integration shares: start a request, finish it, count it.

Request metrics carry the names and units of AWS/ApplicationELB, so alarms
written for an ALB work on an app behind none (change only ``--namespace``):

- ``RequestCount`` (Count), ``TargetResponseTime`` (Seconds),
- ``HTTPCode_Target_4XX_Count`` and ``HTTPCode_Target_5XX_Count`` (Count): one value per
  request, 1 for a 4xx/5xx and 0 otherwise, so Sum is the error count and Average the error rate.

Dimensions keep cardinality bounded: route templates (``/items/{item_id}``), never raw
paths; a request no route matched counts under ``Route=UNMATCHED``.
"""

from __future__ import annotations

import math
import operator
import threading
import time
import traceback
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from itertools import groupby, islice, repeat
from typing import Any

from rexwatch.sdk import context, state
from rexwatch.sdk.config import Config
from rexwatch.sdk.exporters.base import MetricDatum
from rexwatch.sdk.logs import dumps, iso_ms, settle

UNMATCHED = "UNMATCHED"
# Distinct routes tracked per interval; more than this (a framework reporting raw paths) fold into one.
MAX_ROUTES = 1_000
OTHER_ROUTE = "OTHER"


# TargetResponseTime is also kept as a histogram, so p99 alarms work as on an ALB: buckets 10 % wide
# (log base 1.1), each sent as the mean of its values, so a percentile is off by at most 10 %
# and Sum and Average stay exact.
_LOG_BASE = math.log(1.1)
_FLOOR_SECONDS = 1e-6


_call = operator.call
_route_key = operator.itemgetter(0)


def bucket_of(seconds: float) -> int:
    return math.floor(math.log(seconds if seconds > _FLOOR_SECONDS else _FLOOR_SECONDS) / _LOG_BASE)


class RequestMetrics:
    """Per-route tallies for the current interval, expanded into statistic sets when drained.

    A request only appends ``(route, status, seconds)`` to a deque (atomic under the GIL: no lock, no
    arithmetic on the request's path); the sender thread folds them into the tallies when it drains.
    Should it fall behind (a send stuck on a dead server), the request that finds ``FOLD_AT`` entries
    waiting folds them itself, so memory stays bounded and every request is still counted.
    """

    FOLD_AT = 20_000

    def __init__(self, config: Config) -> None:
        self.config = config
        self.lock = threading.Lock()  # held while folding: one folder at a time
        # route -> [count, n4xx, n5xx, sum seconds, min seconds, max seconds, {bucket: [count, sum]}]
        self.routes: dict[str, list] = {}
        self.pending: deque[tuple[str, int, float]] = deque()
        self.append = self.pending.append

    def record(self, route: str, status: int, seconds: float) -> None:
        self.append((route, status, seconds))
        if len(self.pending) >= self.FOLD_AT:
            self.fold()

    def fold(self) -> None:
        """Move the waiting entries into the per-route tallies."""
        with self.lock:
            pending = self.pending
            n = len(pending)
            if not n:
                return
            # Exactly the entries present now, popped in C: appends racing with this wait for the next fold.
            entries = list(map(_call, repeat(pending.popleft, n)))
            routes = dict.fromkeys(map(_route_key, entries))  # in order of arrival: the first MAX_ROUTES win
            if len(routes) == 1:
                self._fold_route(next(iter(routes)), entries)
                return
            entries.sort(key=_route_key)
            by_route = {route: list(group) for route, group in groupby(entries, _route_key)}
            for route in routes:
                self._fold_route(route, by_route[route])

    def _fold_route(self, route: str, entries: list[tuple[str, int, float]]) -> None:
        """One route's entries, with the per-entry work in C: sorted durations give the sum, the extremes and
        the histogram buckets as runs (found by bisection), sorted statuses the 4xx and 5xx counts."""
        routes = self.routes
        t = routes.get(route)
        if t is None:
            if len(routes) >= MAX_ROUTES:
                route = OTHER_ROUTE
                t = routes.get(route)
            if t is None:
                t = routes[route] = [0, 0, 0, 0.0, math.inf, -math.inf, {}]
        _, statuses, durations = zip(*entries, strict=True)
        n = len(durations)
        codes = sorted(statuses)
        n5 = n - bisect_left(codes, 500)
        s = sorted(durations)
        t[0] += n
        t[1] += n - bisect_left(codes, 400) - n5
        t[2] += n5
        t[3] += sum(s)
        if s[0] < t[4]:
            t[4] = s[0]
        if s[-1] > t[5]:
            t[5] = s[-1]
        hist = t[6]
        i = 0
        while i < n:
            b = bucket_of(s[i])
            # The first value of a higher bucket: bisect at the bucket's upper edge, then step over the
            # values that rounding put on the wrong side of it (bucket_of is monotonic).
            j = bisect_left(s, math.exp(min((b + 1) * _LOG_BASE, 709.0)), i + 1, n)
            while j < n and bucket_of(s[j]) <= b:
                j += 1
            while j > i + 1 and bucket_of(s[j - 1]) > b:
                j -= 1
            h = hist.get(b)
            if h is None:
                hist[b] = [j - i, sum(islice(s, i, j))]
            else:
                h[0] += j - i
                h[1] += sum(islice(s, i, j))
            i = j

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.routes = {}
        self.pending = deque()
        self.append = self.pending.append

    def drain(self, now: float) -> list[tuple[str, MetricDatum]]:
        self.fold()
        with self.lock:
            routes, self.routes = self.routes, {}
        if not routes:
            return []
        ns = self.config.namespace
        service = self.config.service
        groups: dict[tuple[tuple[str, str], ...], list] = {}
        for route, t in routes.items():
            for dset in self.config.request_dimensions:
                values = {"Service": service, "Route": route}
                dims = tuple((d, values.get(d, "")) for d in dset)
                g = groups.get(dims)
                if g is None:
                    groups[dims] = [*t[:6], {b: list(h) for b, h in t[6].items()}]
                else:
                    g[0] += t[0]
                    g[1] += t[1]
                    g[2] += t[2]
                    g[3] += t[3]
                    g[4] = min(g[4], t[4])
                    g[5] = max(g[5], t[5])
                    for b, (c, total) in t[6].items():
                        h = g[6].get(b)
                        if h is None:
                            g[6][b] = [c, total]
                        else:
                            h[0] += c
                            h[1] += total
        out: list[tuple[str, MetricDatum]] = []
        for dims, (n, n4, n5, total, lo, hi, hist) in groups.items():
            out.append((ns, MetricDatum("RequestCount", dims, "Count", now, n, n, 1, 1)))
            dist = tuple((hsum / c, float(c)) for _, (c, hsum) in sorted(hist.items()))
            out.append((ns, MetricDatum("TargetResponseTime", dims, "Seconds", now, n, total, lo, hi, dist)))
            for name, k in (("HTTPCode_Target_4XX_Count", n4), ("HTTPCode_Target_5XX_Count", n5)):
                out.append((ns, MetricDatum(name, dims, "Count", now, n, k, 0 if k < n else 1, 1 if k else 0)))
        return out


def start(method: str, path: str, incoming_id: str | None,
          route_of: Callable[[], str | None] | None = None, traceparent: str | None = None,
          tracestate: str | None = None) -> context.RequestContext:
    sdk = state.sdk
    ctx = context.RequestContext(context.clean_request_id(incoming_id), method, path,
                                 sdk.sampler if sdk is not None else None, route_of)
    tracing = sdk.tracing if sdk is not None else None
    if tracing is not None:
        try:
            tracing.begin(ctx, traceparent, tracestate)
        except Exception:  # tracing must never fail a request
            ctx.span = ctx.otel_token = None
    elif traceparent:
        ctx.trace_id = context.trace_id_of(traceparent)
    context.enter(ctx)
    return ctx


def finish(ctx: context.RequestContext, status: int, seconds: float, exc: BaseException | None = None) -> None:
    """Count the request, write its line (sampled with its other lines) and leave its context. Never raises."""
    try:
        sdk = state.sdk
        if sdk is None:
            return
        route = ctx.route
        if route is None:
            route = ctx.resolve_route() or UNMATCHED
        sdk.request_metrics.record(route, status, seconds)
        ctx.status = status
        if not ctx.decided:
            settle(ctx, status)
        if sdk.config.access_log and ctx.kept:
            access_line(sdk, ctx, route, status, seconds, exc)
    except Exception:
        pass
    finally:
        if ctx.span is not None or ctx.otel_token is not None:
            _end_span(ctx, status, exc)
        context.leave(ctx)


def access_line(sdk: Any, ctx: context.RequestContext, route: str, status: int, seconds: float,
                exc: BaseException | None = None) -> None:
    """Queue the request's own line: one dict, one encoding."""
    ms = int(_time() * 1000)
    doc = {
        "timestamp": iso_ms(ms), "level": "ERROR" if status >= 500 else "WARNING" if status >= 400 else "INFO",
        "message": f"{ctx.method} {ctx.path} {status}", "logger": "rexwatch.sdk.access",
        "request_id": ctx.request_id, "method": ctx.method, "path": ctx.path, "route": route,
        "status": status, "duration": round(seconds * 1000, 3),
    }
    if ctx.trace_id:
        doc["trace_id"] = ctx.trace_id
        if ctx.span_id:
            doc["span_id"] = ctx.span_id
    if exc is not None:  # the framework logs it outside the request: keep it on the request's line
        doc["exception"] = "".join(traceback.format_exception(exc)).rstrip()
    if ctx.sample_rate < 1.0:
        doc["sample_rate"] = ctx.sample_rate
    sdk.sender.emit_log(sdk.config.log_group or "/app/app", ms, dumps(doc))


_time = time.time


def _end_span(ctx: context.RequestContext, status: int, exc: BaseException | None) -> None:
    try:
        if ctx.tracing is not None:
            ctx.tracing.end(ctx, ctx.route, status, exc)
    except Exception:
        pass

"""Django middleware: add ``"rexwatch.sdk.django.RexwatchMiddleware"`` first in ``MIDDLEWARE``.

Routes are Django's URL patterns (``items/<int:pk>/`` becomes ``/items/<int:pk>/``);
mount the health endpoint with ``path("health", health.django_view)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rexwatch.sdk.requests import finish, start


def _route_of(request: Any) -> Callable[[], str | None]:
    def route() -> str | None:
        match = getattr(request, "resolver_match", None)
        pattern = getattr(match, "route", None)
        if not pattern:
            return None
        return pattern if pattern.startswith("/") else "/" + pattern
    return route


class RexwatchMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        ctx = start(request.method, request.path, request.headers.get("X-Request-ID"), _route_of(request),
                    request.headers.get("traceparent"), request.headers.get("tracestate"))
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response["X-Request-ID"] = ctx.request_id
            return response
        finally:
            finish(ctx, status, time.perf_counter() - started)

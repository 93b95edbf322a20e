"""The one mapping from domain errors to the REST error shape.

Every REST error body is ``{"error": {"code": str, "message": str}}`` (plus
``field`` or ``position`` where known) with a 4xx status for client mistakes.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from rexwatch.api.responses import JSON
from rexwatch.errors import QueryError, RexwatchError

log = logging.getLogger("rexwatch.api")

_HTTP_CODES = {
    400: "Invalid",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    429: "Throttled",
}


# Longest error message sent back: messages may quote client input, which must not echo whole.
MESSAGE_MAX = 1000


def error_body(code: str, message: str, **extra: object) -> dict:
    if len(message) > MESSAGE_MAX:
        message = message[:MESSAGE_MAX] + f"... ({len(message)} characters)"
    err: dict[str, object] = {"code": code, "message": message}
    err.update({k: v for k, v in extra.items() if v is not None})
    return {"error": err}


def domain_error_response(exc: RexwatchError) -> JSON:
    extra: dict[str, object] = {"field": exc.field}
    if isinstance(exc, QueryError):
        extra["position"] = {"start": exc.start, "end": exc.end, "line": exc.line, "column": exc.col}
    headers = {"Retry-After": "1"} if exc.status == 429 else None
    return JSON(error_body(exc.code, exc.message, **extra), status_code=exc.status, headers=headers)


def _page(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response | None:
    """The console's page for the error when a browser asked for a page (web/errors.py), else None."""
    html = getattr(request.app.state, "html_error", None)
    if html is None:
        return None
    if len(message) > MESSAGE_MAX:
        message = message[:MESSAGE_MAX] + f"... ({len(message)} characters)"
    return html(request, status, message, headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(RexwatchError)
    async def _domain(request: Request, exc: RexwatchError) -> Response:
        headers = {"Retry-After": "1"} if exc.status == 429 else None
        return _page(request, exc.status, exc.message, headers) or domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append(f"{loc}: {err.get('msg', 'invalid')}")
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        page = _page(request, 400, "; ".join(problems))
        if page is not None:
            return page
        return JSON(error_body("Invalid", "; ".join(problems), field=field), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "Error")
        page = _page(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))
        if page is not None:
            return page
        return JSON(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, _exc: ClientDisconnect) -> Response:
        # The client left mid-request: nobody reads this answer and nothing failed here.
        request.scope.setdefault("state", {})["client_disconnected"] = True
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        rid = request.scope.get("state", {}).get("request_id", "")
        log.exception("unhandled error", extra={"request_id": rid})
        page = _page(request, 500, f"rexwatch failed to answer: quote request id {rid} when reporting it.")
        if page is not None:
            return page
        return JSON(
            error_body("InternalError", f"internal error; quote request id {rid} when reporting it"),
            status_code=500,
        )

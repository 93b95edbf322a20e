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


def install(app: FastAPI) -> None:
    @app.exception_handler(RexwatchError)
    async def _domain(_request: Request, exc: RexwatchError) -> JSON:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSON:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append(f"{loc}: {err.get('msg', 'invalid')}")
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        return JSON(error_body("Invalid", "; ".join(problems), field=field), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSON:
        code = _HTTP_CODES.get(exc.status_code, "Error")
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
    async def _unexpected(request: Request, exc: Exception) -> JSON:
        rid = request.scope.get("state", {}).get("request_id", "")
        log.exception("unhandled error", extra={"request_id": rid})
        return JSON(
            error_body("InternalError", f"internal error; quote request id {rid} when reporting it"),
            status_code=500,
        )

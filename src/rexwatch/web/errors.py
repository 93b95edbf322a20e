"""Errors as pages for a browser: a console address that fails (an unknown address, a form sent
with values the service refuses, a missing alarm named in a form) answers an HTML page with the
message and the navigation, where it would answer the REST error JSON to any other client.

api/errors.py maps every error once; it asks ``html_error`` first, which answers only requests a
browser made for a console page (``Accept: text/html``), never the REST API, the AWS door, OTLP,
/health, /metrics or a status page's JSON.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

# Addresses whose clients are programs: they always get their protocol's error shape.
_PROGRAM_PREFIXES = ("/api/", "/v1/", "/service/", "/push/", "/badge/", "/static/")
_PROGRAM_PATHS = ("/", "/health", "/metrics")

TITLES = {
    400: "Not accepted",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Conflict",
    413: "Too large",
    429: "Too many requests",
    500: "Something went wrong",
}


def wants_html(request: Request) -> bool:
    path = request.url.path
    if request.method not in ("GET", "HEAD", "POST") or path in _PROGRAM_PATHS or path.endswith(".json"):
        return False
    if path.startswith(_PROGRAM_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def html_error(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response | None:
    """The error as a console page, or None when the request is not a browser's for a page."""
    if not wants_html(request):
        return None
    from rexwatch.web import templates

    if status == 404 and message == "Not Found":
        message = f"There is no page at {request.url.path[:300]}."
    elif status == 405:
        message = f"{request.url.path[:300]} does not take a {request.method} request."
    # A public status page's visitor sees no console around the message.
    page = "status_missing.html" if request.url.path.startswith("/status/") else "error.html"
    try:
        return templates.TemplateResponse(
            request,
            page,
            {"status": status, "title": TITLES.get(status, "Error"), "message": message},
            status_code=status,
            headers=headers,
        )
    except Exception:  # the JSON answer, rather than a second failure
        return None

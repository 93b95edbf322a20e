"""The interactive API reference (Swagger UI) at /api/v1/docs, from assets this server serves.

The page loads nothing from outside: swagger-ui-dist is vendored under
static/vendor/ by scripts/vendor.py, the online validator badge is off, and
Swagger UI is started by static/apidocs.js, so the page runs no inline script.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

ASSETS = "/static/vendor/swagger-ui-dist"

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>rexwatch API</title>
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
  <link rel="stylesheet" href="/static/apidocs.css">
  <link rel="icon" href="{assets}/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui" data-spec="{spec}"></div>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script src="/static/apidocs.js"></script>
</body>
</html>
"""


@router.get("/api/v1/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(assets=ASSETS, spec=escape(request.app.openapi_url or "", quote=True)))

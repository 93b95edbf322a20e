"""The interactive API reference (Swagger UI) at /api/v1/docs, from assets this server serves.

The page loads nothing from outside: swagger-ui-dist is vendored under
static/vendor/ by scripts/vendor.py, and the online validator badge is off.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

ASSETS = "/static/vendor/swagger-ui-dist"


@router.get("/api/v1/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title="rexwatch API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        # The validator badge would send the spec's URL to an outside service.
        swagger_ui_parameters={"validatorUrl": None},
    )

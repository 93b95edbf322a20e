"""A Flask app instrumented with the SDK."""

from __future__ import annotations

import logging

from checks import HEALTHS, rss_bytes
from flask import Flask, Response, abort, request

import rexwatch.sdk as rw
from rexwatch.sdk.wsgi import RexwatchWSGIMiddleware

rw.configure()
app = Flask(__name__)
app.wsgi_app = RexwatchWSGIMiddleware(app.wsgi_app, flask_app=app, health=HEALTHS["/health"])
log = logging.getLogger("utm.api")


@app.get("/api/v1/tenants/<tenant_id>")
def get_tenant(tenant_id: str) -> dict:
    log.info("tenant fetched", extra={"tenant_id": tenant_id})
    rw.put_metric("TenantFetched", 1, "Count")
    return {"id": tenant_id}


@app.get("/api/v1/noisy")
def noisy() -> Response:
    log.info("noisy work")
    return Response(status=int(request.args.get("code", 200)))


@app.get("/api/v1/missing")
def missing() -> None:
    abort(404)


@app.get("/api/v1/fail")
def fail() -> None:
    raise RuntimeError("kaboom")


for _path in ("/health/db-down", "/health/redis-down"):
    app.add_url_rule(_path, endpoint=_path, view_func=HEALTHS[_path].flask_view)


@app.get("/debug/sdk")
def sdk_stats() -> dict:
    return {**rw.stats(), "rss": rss_bytes()}

"""A FastAPI app instrumented with the SDK: a few lines at the top."""

from __future__ import annotations

import logging
import os

from checks import HEALTHS, rss_bytes
from fastapi import FastAPI, HTTPException, Response

import rexwatch.sdk as rw
from rexwatch.sdk.asgi import RexwatchMiddleware

rw.configure()  # service, endpoint, sampling... from REXWATCH_* variables
# APP_FASTAPI_TELEMETRY=0: FastAPI's own request spans off, so the SDK's middleware opens them.
app = FastAPI(telemetry={"tracing": False}) if os.environ.get("APP_FASTAPI_TELEMETRY") == "0" else FastAPI()
app.add_middleware(RexwatchMiddleware, health=HEALTHS["/health"])
log = logging.getLogger("utm.api")


@app.get("/api/v1/tenants/{tenant_id}")
def get_tenant(tenant_id: str) -> dict:
    log.info("tenant fetched", extra={"tenant_id": tenant_id})
    rw.put_metric("TenantFetched", 1, "Count")
    return {"id": tenant_id}


@app.get("/api/v1/orders/{order_id}")
def get_order(order_id: str) -> dict:
    # The app's own span, with the OpenTelemetry API only: it nests under the request's span.
    from opentelemetry import trace

    with trace.get_tracer("utm.orders").start_as_current_span("load order") as span:
        span.set_attribute("order.id", order_id)
        log.info("order loaded", extra={"order_id": order_id})
        return {"id": order_id, "traceparent": rw.traceparent()}


@app.get("/api/v1/slow")
async def slow(ms: int = 0) -> dict:
    import asyncio

    await asyncio.sleep(ms / 1000)  # the handler's own latency: what TargetResponseTime measures
    return {"slept_ms": ms}


@app.get("/api/v1/noisy")
async def noisy(code: int = 200) -> Response:
    log.info("noisy work")
    return Response(status_code=code)


@app.get("/api/v1/missing")
def missing() -> None:
    raise HTTPException(404, "no such thing")


@app.get("/api/v1/fail")
def fail() -> None:
    raise RuntimeError("kaboom")


@app.get("/health/{which}")
def broken_health(which: str) -> Response:
    code, payload = HEALTHS[f"/health/{which}"].response()
    return Response(payload, status_code=code, media_type="application/json")


@app.get("/debug/sdk")
def sdk_stats() -> dict:
    return {**rw.stats(), "rss": rss_bytes()}

"""Assemble every door into one ASGI app on one port.

``/`` AWS wire protocols (POST) and the web UI (GET), ``/api/v1`` native
REST (reference at ``/api/v1/docs``), ``/health`` and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import Response

from rexwatch import __version__
from rexwatch.api import errors
from rexwatch.api.auth import require_api_key
from rexwatch.api.guard import GuardMiddleware
from rexwatch.api.middleware import RequestContextMiddleware
from rexwatch.api.responses import JSON
from rexwatch.api.routes import ROUTERS
from rexwatch.runtime import Runtime
from rexwatch.stores.control.engine import ping as ping_control

log = logging.getLogger("rexwatch")

# Seconds a /health store check is reused for.
HEALTH_TTL = 0.25


def create_app(runtime: Runtime, *, run_workers: bool = True, close_runtime: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from rexwatch.workers.base import build, selected

        stop = asyncio.Event()
        tasks = []
        if run_workers:
            for name in selected(runtime.settings.workers):
                worker = build(name, runtime)
                tasks.append(asyncio.create_task(worker.run(stop), name=f"worker:{name}"))
        app.state.worker_tasks = tasks
        emf_agent = None
        if runtime.settings.emf_agent_port:
            from rexwatch.intake.emf_agent import EmfAgentListener

            emf_agent = EmfAgentListener(runtime, runtime.settings.host, runtime.settings.emf_agent_port)
            await emf_agent.start()
        app.state.emf_agent = emf_agent
        otlp_grpc = None
        if runtime.settings.otlp_grpc_port:
            from rexwatch.intake.otlp_grpc import OtlpGrpcServer

            otlp_grpc = OtlpGrpcServer(runtime, runtime.settings.host, runtime.settings.otlp_grpc_port)
            await otlp_grpc.start()
        app.state.otlp_grpc = otlp_grpc
        try:
            yield
        finally:
            if otlp_grpc is not None:
                await otlp_grpc.stop()
            if emf_agent is not None:
                await emf_agent.stop()
            stop.set()
            if tasks:
                await asyncio.wait(tasks, timeout=10)
            if close_runtime:
                await asyncio.to_thread(runtime.close)

    app = FastAPI(
        title="rexwatch",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # served by rexwatch.web.apidocs from vendored assets
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    errors.install(app)
    from rexwatch.aws.door import endpoint as aws_endpoint
    from rexwatch.intake import IntakeRoutes
    from rexwatch.intake import endpoints as intake_endpoints

    intake = intake_endpoints(runtime)
    aws_door = aws_endpoint(runtime)
    app.add_middleware(GuardMiddleware, runtime=runtime, own_doors=frozenset(intake))
    app.add_middleware(IntakeRoutes, endpoints=intake, aws_door=aws_door)
    # Outermost, so refusals by the guard are counted and logged too.
    app.add_middleware(RequestContextMiddleware, metrics=runtime.metrics)
    if runtime.settings.otlp_port:
        from rexwatch.intake import OtlpPortOnly

        app.add_middleware(OtlpPortOnly, port=runtime.settings.otlp_port)

    v1 = APIRouter(prefix="/api/v1", dependencies=[Depends(require_api_key)])
    for dotted in ROUTERS:
        v1.include_router(importlib.import_module(dotted).router)
    app.include_router(v1)

    health_cache: dict[str, object] = {"at": 0.0, "result": None}
    health_lock = asyncio.Lock()

    def check_stores() -> tuple[dict[str, str], bool]:
        states, ok = {}, True
        for name, check in (("telemetry_store", runtime.telemetry.ping), ("control_store", lambda: ping_control(runtime.control))):
            try:
                check()
                states[name] = "up"
            except Exception as e:
                runtime.metrics.store_errors.labels(name).inc()
                log.warning("health check: %s is down: %s", name, e)
                states[name] = "down"
                ok = False
        return states, ok

    @app.get("/health", tags=["system"], include_in_schema=False)
    async def health() -> JSON:
        # Store pings are shared by all callers within HEALTH_TTL, so load balancers and
        # monitors may poll at any rate without queueing behind the telemetry store.
        async with health_lock:
            if time.monotonic() - float(health_cache["at"]) > HEALTH_TTL or health_cache["result"] is None:
                health_cache["result"] = await asyncio.to_thread(check_stores)
                health_cache["at"] = time.monotonic()
        states, ok = health_cache["result"]  # type: ignore[misc]
        body: dict[str, object] = {"status": "healthy" if ok else "unhealthy", "timestamp": int(time.time()),
                                   "version": __version__, **states}
        return JSON(body, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    from rexwatch.aws.door import install as install_aws
    from rexwatch.intake import install as install_intake
    from rexwatch.web import install as install_web

    install_aws(app, aws_door)
    install_intake(app, intake)
    install_web(app, runtime)
    return app

"""Helpers for testing rexwatch and code that uses it: real servers, no mocks.

``LiveServer`` serves a runtime over real HTTP on a free loopback port from a
background thread, so boto3, the AWS CLI and httpx talk to it as to a
deployed server while the test shares its stores.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from rexwatch.runtime import Runtime
from rexwatch.settings import Settings, load_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_runtime(data_dir: Path, engine: Any, control_url: str | None = None, **settings: Any) -> Runtime:
    """A runtime on a fresh telemetry database inside a shared chdb engine."""
    from rexwatch.stores.control import connect_control, upgrade
    from rexwatch.stores.telemetry.chdb import ChdbExecutor
    from rexwatch.stores.telemetry.executor import QueryLimits
    from rexwatch.stores.telemetry.schema import apply

    s: Settings = load_settings(
        data_dir=str(data_dir),
        control_url=control_url or f"sqlite:///{data_dir / 'control.db'}",
        telemetry_database=f"t_{uuid.uuid4().hex[:12]}",
        **settings,
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    control = connect_control(s.effective_control_url)
    upgrade(control)
    telemetry = ChdbExecutor(engine, s.telemetry_database, QueryLimits.from_settings(s))
    apply(telemetry)
    return Runtime(s, control, telemetry)


class LiveServer:
    """Serve ``create_app(runtime)`` with uvicorn in a thread until ``stop()``."""

    def __init__(self, runtime: Runtime, *, run_workers: bool = True) -> None:
        import uvicorn

        from rexwatch.api.app import create_app

        self.runtime = runtime
        self.port = free_port()
        runtime.settings.port = self.port
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(runtime, run_workers=run_workers)
        from rexwatch.server.protocol import protocol_class

        # The production protocol, so tests meet the same read deadline and header limit.
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None, access_log=False,
                                lifespan="on", http=protocol_class(runtime.settings.read_timeout_s))
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"live-server-{self.port}", daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def boto3_client(self, service: str, **kw: Any) -> Any:
        import boto3
        from botocore.config import Config

        kw.setdefault("aws_access_key_id", "test")
        kw.setdefault("aws_secret_access_key", "test")
        return boto3.client(service, endpoint_url=self.url, region_name=self.runtime.settings.region,
                            config=Config(retries={"max_attempts": 1}), **kw)

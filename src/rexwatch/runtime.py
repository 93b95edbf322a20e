"""The running program's shared parts: settings, stores, metrics and services.

Front doors and workers receive a ``Runtime`` and ask it for services
(``runtime.service(LogsService)``); a service class takes the runtime in its
constructor and is created once, on first use.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine

from rexwatch.secrets import SecretBox
from rexwatch.selfmetrics import ServerMetrics
from rexwatch.settings import Settings
from rexwatch.stores.telemetry.executor import Executor

T = TypeVar("T")

# Functions run right after a service is created, by "module:Class" of the service; each is
# "module:function" called as fn(runtime, service). One area can thus hook into another's
# service (metric filters listen to log ingest) without either importing the other at start.
SERVICE_HOOKS: dict[str, tuple[str, ...]] = {
    "rexwatch.services.logs.service:LogsService": (
        "rexwatch.services.metrics.filters:attach_to_logs",
        "rexwatch.services.metrics.emf:attach_to_logs",
    ),
}


class Runtime:
    def __init__(
        self, settings: Settings, control: Engine, telemetry: Executor, box: SecretBox | None = None
    ) -> None:
        self.settings = settings
        self.control = control
        self.telemetry = telemetry
        self.box = box or SecretBox.from_settings(settings.secret_key.get_secret_value(), settings.data_dir)
        self.metrics = ServerMetrics()
        self._services: dict[type, Any] = {}
        self._lock = threading.RLock()
        # Callbacks run at shutdown in reverse order (flush buffers before closing stores).
        self._on_close: list[Callable[[], None]] = []

    def service(self, cls: type[T]) -> T:
        svc = self._services.get(cls)
        if svc is None:
            with self._lock:
                svc = self._services.get(cls)
                if svc is None:
                    svc = cls(self)  # type: ignore[call-arg]
                    self._services[cls] = svc
                    for hook in SERVICE_HOOKS.get(f"{cls.__module__}:{cls.__qualname__}", ()):
                        module, _, fn = hook.partition(":")
                        getattr(importlib.import_module(module), fn)(self, svc)
        return svc

    def on_close(self, fn: Callable[[], None]) -> None:
        self._on_close.append(fn)

    def close(self, *, close_stores: bool = True) -> None:
        while self._on_close:
            fn = self._on_close.pop()
            try:
                fn()
            except Exception:  # closing must go on whatever one part does
                import logging

                logging.getLogger("rexwatch").exception("error while shutting down")
        if close_stores:
            self.control.dispose()
            self.telemetry.close()

    @property
    def keys(self):
        from rexwatch.services.keys import KeyService

        svc = self._services.get(KeyService)
        if svc is None:
            svc = KeyService(self.control, self.box)
            self._services[KeyService] = svc
        return svc


def open_runtime(settings: Settings) -> Runtime:
    """Open both stores, apply migrations and return the runtime. Raises ConfigError."""
    from rexwatch.stores.control import connect_control, upgrade
    from rexwatch.stores.telemetry import open_executor
    from rexwatch.stores.telemetry.executor import QueryLimits
    from rexwatch.stores.telemetry.schema import apply

    control = connect_control(settings.effective_control_url)
    upgrade(control)
    telemetry = open_executor(
        settings.telemetry_url, str(settings.telemetry_path), settings.telemetry_database,
        QueryLimits.from_settings(settings),
    )
    apply(telemetry)
    return Runtime(settings, control, telemetry)

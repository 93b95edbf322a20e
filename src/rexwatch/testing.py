"""Helpers for testing rexwatch and code that uses it: real servers, no mocks.

``LiveServer`` serves a runtime over real HTTP on a free loopback port from a
background thread, so boto3, the AWS CLI and httpx talk to it as to a
deployed server while the test shares its stores.

Tests never sleep to let something happen: ``wait_until`` polls a predicate
with a deadline, and ``wait_for_tick`` waits for a background worker to finish
rounds that began after the call (for an in-process runtime, or for a server
subprocess through its /metrics). Deadlines are generous because a loaded
machine is slow; a passing test returns as soon as its condition holds.
"""

from __future__ import annotations

import atexit
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from rexwatch.runtime import Runtime
from rexwatch.settings import Settings, load_settings

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], deadline: float = 60.0, interval: float = 0.05,
               what: str | None = None) -> T:
    """Call ``predicate`` until it returns something truthy, and return that; fail after ``deadline`` s.

    Exceptions from the predicate count as "not yet" until the deadline, where the last one is re-raised
    in an AssertionError's context (so a server that is still starting does not fail the wait).
    """
    end = time.monotonic() + deadline
    last: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = None
        except Exception as e:  # not ready yet
            last = e
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline:g} s waiting for {what or 'the condition'}") from last
        time.sleep(interval)


def _metric_value(text: str, name: str, worker: str) -> int:
    prefix = f'{name}{{worker="{worker}"}} '
    for line in text.splitlines():
        if line.startswith(prefix):
            return int(float(line[len(prefix):]))
    return 0


def wait_for_tick(target: Runtime | str, worker: str, n: int = 1, deadline: float = 120.0) -> int:
    """Wait until ``worker`` has finished ``n`` rounds that started after this call; return its round count.

    ``target`` is a runtime (in-process workers) or a server's base URL (read from its /metrics). Worker
    names: alarms, notify, probes (a flush of results), probes_reload (a configuration re-read),
    retention, metric_filters (one batch of log events), selfwatch (a flush of the server's own request
    log and metrics), scrape (one scrape of one exporter).
    """
    if isinstance(target, Runtime):
        return target.metrics.ticks.wait(worker, n, deadline)
    import httpx

    def read() -> tuple[int, int]:
        text = httpx.get(f"{target.rstrip('/')}/metrics", timeout=10).text
        return (_metric_value(text, "rexwatch_worker_round_starts_total", worker),
                _metric_value(text, "rexwatch_worker_rounds_total", worker))

    started, _ = wait_until(read, deadline, what=f"{target}/metrics")
    goal = started + n

    def reached() -> int:
        finished = read()[1]
        return finished if finished >= goal else 0

    return wait_until(reached, deadline, interval=0.1, what=f"{n} round(s) of worker {worker!r}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_sqlite_template: Path | None = None
_sqlite_template_lock = threading.Lock()


def _migrated_sqlite_copy(dest: Path) -> None:
    """Write at ``dest`` a SQLite control store at the newest revision of every migration branch.

    The migrations run once per process, into a template; each runtime gets a copy of it (SQLite's
    backup API, so the copy is consistent whatever the template's journal holds). The copy is the
    store ``upgrade`` would have made, at a fraction of the cost of running alembic for every test.
    """
    import shutil
    import sqlite3
    import tempfile

    from rexwatch.stores.control import connect_control, upgrade

    global _sqlite_template
    with _sqlite_template_lock:
        if _sqlite_template is None:
            folder = Path(tempfile.mkdtemp(prefix="rexwatch-control-template-"))
            atexit.register(shutil.rmtree, folder, True)
            engine = connect_control(f"sqlite:///{folder / 'control.db'}")
            try:
                upgrade(engine)
            finally:
                engine.dispose()
            _sqlite_template = folder / "control.db"
        template = _sqlite_template
    src, dst = sqlite3.connect(template), sqlite3.connect(dest)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


_spares: dict[int, tuple[Any, Future[str]]] = {}
_spares_lock = threading.Lock()


def _prepare_database(engine: Any, done: Future[str]) -> None:
    from rexwatch.stores.telemetry.chdb import ChdbExecutor
    from rexwatch.stores.telemetry.schema import apply

    try:
        name = f"t_{uuid.uuid4().hex[:12]}"
        apply(ChdbExecutor(engine, name))
        done.set_result(name)
    except BaseException as e:  # the engine closed under it, say: the caller makes its own
        done.set_exception(e)


def _settle_spares() -> None:
    # At exit, before the interpreter goes: chdb crashes the process if a statement is still running then.
    for _, done in list(_spares.values()):
        try:
            done.result(timeout=10)
        except Exception:
            pass


def _fresh_database(engine: Any) -> str | None:
    """A new telemetry database in ``engine`` with the schema applied, made while the previous test ran.

    One database is prepared ahead per engine, on a background thread: its DDL mostly waits on chdb,
    not on the CPU, so a test's fresh database is ready when it asks. None when that failed.
    """
    following: Future[str] = Future()
    with _spares_lock:
        if not _spares:
            atexit.register(_settle_spares)
        previous = _spares.get(id(engine))
        _spares[id(engine)] = (engine, following)
    threading.Thread(
        target=_prepare_database, args=(engine, following), name="telemetry-db-ahead", daemon=True
    ).start()
    if previous is None or previous[0] is not engine:
        return None
    try:
        return previous[1].result(timeout=120)
    except Exception:
        return None


def make_runtime(data_dir: Path, engine: Any, control_url: str | None = None, **settings: Any) -> Runtime:
    """A runtime on a fresh telemetry database inside a shared chdb engine.

    Without ``control_url`` the control store is the SQLite file in ``data_dir``, at the newest revision
    of the migrations (a copy of a migrated template when there is none yet); a given ``control_url``
    (PostgreSQL, say) is migrated with ``upgrade``.
    """
    from rexwatch.stores.control import connect_control, upgrade
    from rexwatch.stores.telemetry.chdb import ChdbExecutor
    from rexwatch.stores.telemetry.executor import QueryLimits
    from rexwatch.stores.telemetry.schema import apply

    if "telemetry_database" not in settings:
        settings["telemetry_database"] = _fresh_database(engine) or f"t_{uuid.uuid4().hex[:12]}"
    s: Settings = load_settings(
        data_dir=str(data_dir),
        control_url=control_url or f"sqlite:///{data_dir / 'control.db'}",
        **settings,
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    if control_url is None and not (data_dir / "control.db").exists():
        _migrated_sqlite_copy(data_dir / "control.db")
        control = connect_control(s.effective_control_url)
    else:  # another store, or one a previous runtime left in data_dir
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
        # A stop does not wait on responses that never end (a live tail a browser page keeps open).
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None, access_log=False,
                                lifespan="on", http=protocol_class(runtime.settings.read_timeout_s),
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"live-server-{self.port}", daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 120  # a loaded machine starts slowly
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

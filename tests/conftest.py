"""Fixtures: a shared chdb engine per test process, a fresh database per test,
SQLite by default and the real PostgreSQL on 127.0.0.1 where asked."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import ServerProcess
from rexwatch.runtime import Runtime
from rexwatch.testing import LiveServer, make_runtime

# Settings a developer's shell may carry (REXWATCH_PORT=9099, REXWATCH_DATA_DIR, REXWATCH_ENDPOINT of the
# server they are running, ...) must not reach the servers and CLIs the tests start. Only the knobs that
# steer the test suite itself survive.
TEST_KNOBS = {"REXWATCH_TEST_PG", "REXWATCH_UPDATE_GOLDEN", "REXWATCH_REGEN_GOLDEN", "REXWATCH_FUZZ_EXAMPLES"}
for _name in [n for n in os.environ if n.startswith("REXWATCH_") and n not in TEST_KNOBS]:
    del os.environ[_name]
# Servers the tests start do not watch themselves (their own log group, metrics and monitor would show up
# in the listings tests compare); tests/test_selfwatch.py turns it on.
os.environ["REXWATCH_SELF_MONITOR"] = "false"
# Test data (tmp_path: chdb parts, SQLite stores, the data dirs of server subprocesses) lives in memory
# where the machine has it: a test makes fresh stores, and on a disk busy with other work their DDL and
# fsyncs cost seconds per test. pytest's numbered, self-cleaning temp dirs are kept; only their root moves.
if "PYTEST_DEBUG_TEMPROOT" not in os.environ and os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
    os.environ["PYTEST_DEBUG_TEMPROOT"] = "/dev/shm"

PG_ADMIN_URL = os.environ.get("REXWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def chdb_engine(tmp_path_factory: pytest.TempPathFactory):
    from rexwatch.stores.telemetry.chdb import engine_for

    engine = engine_for(str(tmp_path_factory.mktemp("chdb")))
    yield engine
    engine.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"rxw_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def control_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Parametrises a test over both control stores."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'control.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def runtime(tmp_path: Path, chdb_engine) -> Iterator[Runtime]:
    rt = make_runtime(tmp_path / "data", chdb_engine, workers="none")
    yield rt
    rt.close(close_stores=False)
    rt.telemetry.drop_database()
    rt.control.dispose()


@pytest.fixture
def client(runtime: Runtime):
    from fastapi.testclient import TestClient

    from rexwatch.api.app import create_app

    with TestClient(create_app(runtime, run_workers=False), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def live(runtime: Runtime) -> Iterator[LiveServer]:
    with LiveServer(runtime, run_workers=False) as server:
        yield server


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (never a downloaded browser build)."""
    from playwright.sync_api import expect, sync_playwright

    # A loaded machine can take more than expect()'s 5 s to render a page; the assertions wait for
    # a state, so a longer limit only matters when they would fail anyway.
    expect.set_options(timeout=60_000)
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A browser page that fails the test on any uncaught script error."""
    p = browser.new_page()
    p.set_default_timeout(60_000)
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    p.close()
    assert errors == [], errors


@pytest.fixture
def server_process(tmp_path: Path):
    started: list[ServerProcess] = []

    def make(*args: str, data_dir: Path | None = None, env: dict[str, str] | None = None) -> ServerProcess:
        sp = ServerProcess(data_dir or tmp_path / "srv", *args, env=env)
        started.append(sp)
        return sp

    yield make
    for sp in started:
        if sp.proc and sp.proc.poll() is None:
            sp.stop(9)


@pytest.fixture
def app_factory():
    """Start SDK-instrumented test apps (tests/sdk_apps) in subprocesses; stopped after the test."""
    from sdk_helpers import App

    started: list = []

    def make(kind: str, endpoint: str, **env: str) -> App:
        app = App(kind, endpoint, **env)
        started.append(app)
        app.wait_up()
        return app

    yield make
    for app in started:
        app.stop()


# `make test` spreads the suite over two xdist workers file by file (--dist loadfile), so a module's
# fixtures start once. The documents' runs in tests/test_docs.py are the longest tests and independent
# (each starts its own server): as one file they kept one worker busy for minutes after the other had
# finished. Each is its own unit of work, and those units are handed out first.
SPREAD_FILES = {"tests/test_docs.py"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SpreadLongFiles(LoadFileScheduling):
        first = True

        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return nodeid if scope in SPREAD_FILES else scope

        def _assign_work_unit(self, node) -> None:
            if self.first:
                self.first = False
                for scope in reversed([s for s in self.workqueue if s.split("::", 1)[0] in SPREAD_FILES]):
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return SpreadLongFiles(config, log)

"""Opening the control store and running its migrations."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import NullPool

from rexwatch.errors import ConfigError, Invalid

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def connect_control(url: str) -> Engine:
    """Create the engine and check it answers; raise ConfigError with one clear line if not."""
    try:
        if url.startswith("sqlite"):
            _private_file(url)
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
        elif url.startswith("postgresql"):
            engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
        else:
            raise ConfigError(f"control_url {url!r}: only sqlite:/// and postgresql+psycopg:// are supported")
        event.listen(engine, "before_cursor_execute", _refuse_nul)
    except ArgumentError as e:
        raise ConfigError(f"control_url is malformed: {e}")
    except ModuleNotFoundError as e:
        raise ConfigError(f"control_url needs a driver that is not installed: {e.name}")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as e:
        reason = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
        raise ConfigError(f"control store at {_safe(url)} refused the connection: {reason}")
    return engine


def _private_file(url: str) -> None:
    """Create the SQLite file readable by its owner only (it holds sealed secrets and key hashes);
    SQLite gives its -wal and -shm files the same mode. An existing file loses group/other access."""
    import os
    import stat

    from sqlalchemy.engine import make_url

    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
    except OSError:
        return  # a missing directory: SQLite reports it with a clear message below


def ping(engine: Engine) -> None:
    """Raise if the control store does not answer; the health endpoint and overview call this."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


_PARAM_SUFFIX = re.compile(r"_\d+$")


def _refuse_nul(_conn, _cursor, _statement, parameters, context, _executemany) -> None:
    """PostgreSQL cannot store U+0000 in text (psycopg raises DataError, a 500 to the caller), and SQLite
    would keep it: a name or description holding one is refused on both stores alike, with a 400 that
    names the column, before anything is written."""
    rows = parameters if isinstance(parameters, list) else (parameters,)
    positions = getattr(getattr(context, "compiled", None), "positiontup", None) or ()
    for row in rows:
        items = row.items() if isinstance(row, dict) else enumerate(row or ())
        for key, value in items:
            if isinstance(value, str) and "\x00" in value:
                if isinstance(key, int):  # SQLite's positional parameters: the compiled statement names them
                    key = positions[key] if key < len(positions) else "a text value"
                name = _PARAM_SUFFIX.sub("", key)
                raise Invalid(f"{name} must not contain the NUL character (U+0000)")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers and one writer work at once; busy_timeout waits instead of failing.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _safe(url: str) -> str:
    from rexwatch.settings import mask_url_password

    return mask_url_password(url)


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision of every area branch."""
    from alembic import command

    logging.getLogger("alembic").setLevel(logging.WARNING)
    command.upgrade(alembic_config(engine), "heads")


def disposable_sqlite_engine(path: str) -> Engine:
    """An engine without pooling, for short-lived CLI commands."""
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine

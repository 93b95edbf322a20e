"""Embedded ClickHouse through chdb.

chdb allows one engine (one data path) per process, so every executor in a
process shares one ``ChdbEngine``. Several databases (one per test, say) can
live in one engine.

One chdb connection runs one statement at a time, but several connections to
the same path run concurrently (measured: an insert finished in 4 ms while a
1.5 s query ran on another connection, against 1.4 s when both shared one).
The engine therefore keeps a small pool of connections, so a long Insights
query never holds up ingest.
"""

from __future__ import annotations

import csv
import io
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from rexwatch.errors import ConfigError, Unavailable
from rexwatch.stores.telemetry.executor import Progress, QueryLimits, limit_error, settings_clause

_engines: dict[str, ChdbEngine] = {}

_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def _literal(v: Any) -> str:
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, list | tuple):
        return "[" + ",".join(_literal(x) for x in v) + "]"
    return str(v)


def encode_param(v: Any) -> Any:
    """Query parameters travel in ClickHouse's escaped text form: a string value is
    TSV-escaped and an array is written as a literal, so any text round-trips."""
    if isinstance(v, str):
        return v.translate(_TSV_ESCAPES)
    if isinstance(v, list | tuple):
        return _literal(v)
    return v


_engines_lock = threading.Lock()

# chdb runs statements with ids of its own: a statement is named by its ``log_comment`` setting,
# which system.processes shows in its ``Settings`` map (KILL QUERY and the check for it match on
# that). A comment in the SQL would not do: a statement with parameters is listed re-formatted.
_QUERY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _marker(query_id: str) -> str:
    if not _QUERY_ID.match(query_id):
        raise ValueError(f"not a query id: {query_id!r}")
    return f"rexwatch-query:{query_id}"


class ChdbEngine:
    """A pool of chdb connections to one data path."""

    POOL_SIZE = 4

    def __init__(self, path: str, pool_size: int = POOL_SIZE) -> None:
        import chdb

        Path(path).mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.RLock()  # guards open/close only; queries use the pool
        self._all = [chdb.connect(path) for _ in range(pool_size)]
        self._free: queue.LifoQueue[Any] = queue.LifoQueue()
        for conn in self._all:
            self._free.put(conn)
        self.closed = False

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self.closed:
            raise Unavailable("telemetry store is closed")
        conn = self._free.get()
        try:
            yield conn
        except Exception:
            # chdb 4.4: after a statement fails while running (a limit, throwIf...), the next
            # statement on that connection returns the failed one's partial output. A throwaway
            # statement takes it, so the next caller gets its own result.
            try:
                conn.query("SELECT 1", "CSV")
            except Exception:
                pass
            raise
        finally:
            self._free.put(conn)

    def run(self, sql: str, fmt: str = "CSV", params: dict[str, Any] | None = None,
            progress: Callable[[dict[str, int]], None] | None = None) -> Any:
        """Run one statement; ``progress`` is called with chdb's progress payloads (accumulated
        ``read_rows``, ``read_bytes``, ``total_rows_to_read``…) while it runs."""
        encoded = {k: encode_param(v) for k, v in params.items()} if params else None
        with self._connection() as conn:
            if progress is None:
                return conn.query(sql, fmt, params=encoded)
            conn.set_progress_callback(progress)
            try:
                return conn.query(sql, fmt, params=encoded)
            finally:
                conn.set_progress_callback(None)

    def insert_arrow(self, target: str, columns: str, arrow_batch: pa.Table, settings: str = "") -> None:
        """Insert from an Arrow table without copying it through Python rows."""
        # chdb's Python() table function finds the table by its variable name in
        # the calling frame: ``arrow_batch`` must stay a local of this function.
        sql = f"INSERT INTO {target} ({columns}) {settings} SELECT {columns} FROM Python(arrow_batch)"
        with self._connection() as conn:
            conn.query(sql, "CSV")

    def query_over_arrow(self, sql: str, arrow_batch: pa.Table, fmt: str = "ArrowTable",
                         params: dict[str, Any] | None = None) -> Any:
        """Run ``sql`` reading the in-memory table as ``Python(arrow_batch)``."""
        encoded = {k: encode_param(v) for k, v in params.items()} if params else None
        # As in insert_arrow, ``arrow_batch`` must stay a local of this function.
        with self._connection() as conn:
            return conn.query(sql, fmt, params=encoded)

    def close(self) -> None:
        with self.lock:
            if not self.closed:
                self.closed = True
                # Wait for statements in flight: take every connection back first.
                for _ in self._all:
                    self._free.get(timeout=60)
                for conn in self._all:
                    conn.close()
        with _engines_lock:
            if _engines.get(self.path) is self:
                del _engines[self.path]


def engine_for(path: str) -> ChdbEngine:
    """The process-wide engine for ``path``; chdb refuses a second path in one process."""
    path = str(Path(path).resolve())
    with _engines_lock:
        engine = _engines.get(path)
        if engine is not None and not engine.closed:
            return engine
        if _engines:
            other = next(iter(_engines))
            raise ConfigError(f"this process already holds the embedded telemetry store at {other}")
        try:
            engine = ChdbEngine(path)
        except Exception as e:  # chdb raises plain RuntimeError
            raise ConfigError(f"cannot open the telemetry store at {path}: {e}")
        _engines[path] = engine
        return engine


class ChdbExecutor:
    """Executor over a shared ``ChdbEngine`` for one database."""

    embedded = True

    def __init__(self, engine: ChdbEngine, database: str, limits: QueryLimits | None = None) -> None:
        self.engine = engine
        self.database = database
        self.limits = limits or QueryLimits()
        self.engine.run(f"CREATE DATABASE IF NOT EXISTS {database}")

    def _prepare(self, sql: str, params: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        return sql, {"db": self.database, **(params or {})}

    def _run(self, sql: str, fmt: str, params: dict[str, Any] | None, settings: dict[str, Any] | None,
             limited: bool, query_id: str | None = None, progress: Progress | None = None) -> Any:
        sql, params = self._prepare(sql, params)
        effective = {**self.limits.settings(), **(settings or {})} if limited else dict(settings or {})
        if query_id is not None:
            effective["log_comment"] = _marker(query_id)
        callback = None
        if progress is not None:
            def callback(p: dict[str, int]) -> None:
                progress(int(p.get("read_rows", 0)), int(p.get("read_bytes", 0)))
        try:
            return self.engine.run(sql + settings_clause(effective), fmt, params, progress=callback)
        except RuntimeError as e:  # chdb raises ClickHouse errors as plain RuntimeError
            err = limit_error(e, effective)
            if err is not None:
                raise err from None
            raise

    def execute(self, sql: str, params: dict[str, Any] | None = None, *,
                settings: dict[str, Any] | None = None) -> None:
        self._run(sql, "CSV", params, settings, limited=False)

    def query_arrow(self, sql: str, params: dict[str, Any] | None = None, *,
                    settings: dict[str, Any] | None = None, query_id: str | None = None,
                    progress: Progress | None = None) -> pa.Table:
        res = self._run(sql, "ArrowTable", params, settings, limited=True, query_id=query_id, progress=progress)
        return res if isinstance(res, pa.Table) else pa.table({})

    def query_rows(self, sql: str, params: dict[str, Any] | None = None, *,
                   settings: dict[str, Any] | None = None, query_id: str | None = None,
                   progress: Progress | None = None) -> list[tuple[Any, ...]]:
        table = self.query_arrow(sql, params, settings=settings, query_id=query_id, progress=progress)
        cols = [c.to_pylist() for c in table.columns]
        return list(zip(*cols, strict=True)) if cols else []

    def query_text_rows(self, sql: str, params: dict[str, Any] | None = None, *,
                        settings: dict[str, Any] | None = None, query_id: str | None = None,
                        progress: Progress | None = None) -> tuple[list[tuple[Any, ...]], int]:
        res = self._run(sql, "JSONCompact", params, settings, limited=True, query_id=query_id, progress=progress)
        raw = res.bytes() if res is not None else b""
        data = orjson.loads(raw) if raw else {"data": []}
        rows = [tuple(r) for r in data.get("data", [])]
        return rows, int(data.get("rows_before_limit_at_least", len(rows)))

    def insert_arrow(self, table: str, data: pa.Table, *, dedup_token: str | None = None) -> int:
        if data.num_rows == 0:
            return 0
        cols = ", ".join(f"`{c}`" for c in data.column_names)
        settings = ""
        if dedup_token is not None:
            # A retried insert with the same token is dropped, in the table and in the
            # materialized views it feeds (tables need non_replicated_deduplication_window).
            token = dedup_token.replace("\\", "\\\\").replace("'", "\\'")
            settings = (f"SETTINGS insert_deduplication_token='{token}', "
                        "deduplicate_blocks_in_dependent_materialized_views=1")
        self.engine.insert_arrow(f"{self.database}.{table}", cols, data, settings)
        return data.num_rows

    def matching_rows(self, predicate: str, params: dict[str, Any], messages: pa.Array) -> list[int]:
        """Positions of the ``messages`` for which the ClickHouse ``predicate`` over
        ``message`` holds, computed in the engine instead of a Python loop."""
        if len(messages) == 0:
            return []
        batch = pa.table({"message": messages, "__pos": pa.array(range(len(messages)), pa.uint32())})
        limits = self.limits.settings()
        sql = f"SELECT __pos FROM Python(arrow_batch) WHERE {predicate} ORDER BY __pos" + settings_clause(limits)
        try:
            res = self.engine.query_over_arrow(sql, batch, "ArrowTable", params)
        except RuntimeError as e:
            err = limit_error(e, limits)
            if err is not None:
                raise err from None
            raise
        return res.column("__pos").to_pylist() if isinstance(res, pa.Table) and res.num_rows else []

    _MATCH = "Settings['log_comment'] = {marker:String}"

    def kill_query(self, query_id: str) -> int:
        """Stop the running statements named ``query_id`` (KILL QUERY … SYNC: it returns once they
        have stopped); how many there were."""
        res = self.engine.run(f"KILL QUERY WHERE {self._MATCH} SYNC", "CSV", {"marker": _marker(query_id)})
        text = bytes(res.bytes() if res is not None else b"").decode()
        return len({row[1] for row in csv.reader(io.StringIO(text)) if len(row) > 1})  # (kill_status, query_id, …)

    def running(self, query_id: str) -> int:
        """How many statements named ``query_id`` are running now (system.processes)."""
        res = self.engine.run(f"SELECT count() FROM system.processes WHERE {self._MATCH}", "CSV",
                              {"marker": _marker(query_id)})
        return int(bytes(res.bytes()).decode().strip() or 0)

    def ping(self) -> None:
        started = time.monotonic()
        self.engine.run("SELECT 1")
        if time.monotonic() - started > 5:
            raise Unavailable("telemetry store answered too slowly")

    def close(self) -> None:
        self.engine.close()

    def drop_database(self) -> None:
        self.engine.run(f"DROP DATABASE IF EXISTS {self.database}")

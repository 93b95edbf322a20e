"""The executor seam every telemetry service talks to."""

from __future__ import annotations

from typing import Any, Protocol

import pyarrow as pa

from rexwatch.errors import ConfigError


class Executor(Protocol):
    """Runs ClickHouse SQL against one database.

    SQL uses ``{db}`` for the database name, filled in by the executor, and
    ClickHouse query parameters (``{name:Type}``) passed in ``params``.
    Methods are synchronous; async callers run them in a thread
    (``anyio.to_thread.run_sync``) so the event loop never blocks.
    """

    database: str

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, ALTER, INSERT … SELECT)."""

    def query_arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        """Run a query and return its result as an Arrow table."""

    def query_rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a query and return rows as tuples (small results only)."""

    def insert_arrow(self, table: str, data: pa.Table, *, dedup_token: str | None = None) -> int:
        """Append an Arrow table to ``{db}.table``; columns are matched by name. A retry
        carrying the same ``dedup_token`` inserts nothing (on tables with a dedup window)."""

    def matching_rows(self, predicate: str, params: dict[str, Any], messages: pa.Array) -> list[int]:
        """Positions of ``messages`` for which a boolean expression over ``message`` holds."""

    def ping(self) -> None:
        """Raise if the store cannot answer ``SELECT 1``."""

    def close(self) -> None:
        """Release the engine. Safe to call twice."""


def open_executor(url: str, path: str, database: str) -> Executor:
    """Open the executor a settings URL names. Empty URL: embedded chdb at ``path``."""
    if not url or url.startswith("chdb:"):
        from rexwatch.stores.telemetry.chdb import ChdbExecutor, engine_for

        target = url[len("chdb:") :] if url.startswith("chdb:") else path
        return ChdbExecutor(engine_for(target), database)
    raise ConfigError(f"telemetry_url {url!r} is not supported yet: leave it empty for the embedded store")

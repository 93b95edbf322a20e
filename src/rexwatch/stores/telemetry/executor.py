"""The executor seam every telemetry store talks to, and the limits every query runs under."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from rexwatch.errors import ConfigError, QueryMemoryExceeded, QueryTimeout

_SETTING_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_CODE = re.compile(r"Code: (\d+)\.")
TIMEOUT_EXCEEDED = 159
MEMORY_LIMIT_EXCEEDED = 241


# Called while a statement runs with the rows and bytes it has read so far (accumulated).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class QueryLimits:
    """What one telemetry read may cost. Applied by the executor to every query it runs
    (not to inserts or DDL), so no caller can forget them; a caller may tighten or loosen
    them for one statement with ``settings=`` (Insights uses its own time limit)."""

    max_execution_s: float = 30.0
    max_memory_bytes: int = 4 << 30

    @classmethod
    def from_settings(cls, settings: Any) -> QueryLimits:
        return cls(float(settings.telemetry_max_execution_s), int(settings.telemetry_max_memory_mb) << 20)

    def settings(self) -> dict[str, Any]:
        return {"max_execution_time": self.max_execution_s, "max_memory_usage": self.max_memory_bytes}


def settings_clause(settings: dict[str, Any] | None) -> str:
    """`` SETTINGS a = 1, b = 'x'`` for the given ClickHouse settings (empty when none)."""
    if not settings:
        return ""
    parts = []
    for name, value in settings.items():
        if not _SETTING_NAME.match(name):
            raise ValueError(f"not a ClickHouse setting name: {name!r}")
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, float):
            text = f"{value:g}"
        else:
            text = "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
        parts.append(f"{name} = {text}")
    return "\nSETTINGS " + ", ".join(parts)


def limit_error(exc: BaseException, settings: dict[str, Any]) -> Exception | None:
    """The domain error for a ClickHouse error that says a query limit was hit, else None."""
    m = _CODE.search(str(exc))
    code = int(m.group(1)) if m else None
    if code == TIMEOUT_EXCEEDED:
        limit = settings.get("max_execution_time")
        return QueryTimeout(f"the query ran longer than its limit of {limit:g} s; narrow the time range, "
                            "the log groups or the pattern")
    if code == MEMORY_LIMIT_EXCEEDED:
        limit = int(settings.get("max_memory_usage") or 0) >> 20
        return QueryMemoryExceeded(f"the query needed more than its memory limit of {limit} MiB; narrow the "
                                   "time range, the log groups or the pattern")
    return None


class Executor(Protocol):
    """Runs ClickHouse SQL against one database.

    SQL names the database as ``{db:Identifier}``: a query parameter the executor
    supplies with every statement, so the name is never spliced into SQL text and no
    text a user wrote (an Insights string literal, say) is ever rewritten. Values
    travel as ClickHouse query parameters (``{name:Type}``) in ``params``. Nothing
    rewrites SQL text.

    Every query (``query_*``, ``matching_rows``) runs under the executor's
    ``QueryLimits``; one over its limits raises QueryTimeout or QueryMemoryExceeded.
    ClickHouse settings for one statement go in ``settings=`` (never a SETTINGS
    clause in the SQL: the executor appends one).

    Methods are synchronous; async callers run them in a thread
    (``anyio.to_thread.run_sync``) so the event loop never blocks.
    """

    database: str
    limits: QueryLimits
    embedded: bool  # an in-process engine (chdb): few queries should run side by side

    def execute(self, sql: str, params: dict[str, Any] | None = None, *,
                settings: dict[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, ALTER, INSERT … SELECT); no query limits."""

    def query_arrow(self, sql: str, params: dict[str, Any] | None = None, *,
                    settings: dict[str, Any] | None = None, query_id: str | None = None,
                    progress: Progress | None = None) -> pa.Table:
        """Run a query and return its result as an Arrow table. ``query_id`` (letters, digits,
        ``-`` and ``_``) names the statement for ``kill_query`` and ``running``; ``progress`` is
        called with the rows and bytes read so far while it runs."""

    def query_rows(self, sql: str, params: dict[str, Any] | None = None, *,
                   settings: dict[str, Any] | None = None, query_id: str | None = None,
                   progress: Progress | None = None) -> list[tuple[Any, ...]]:
        """Run a query and return rows as tuples (small results only)."""

    def query_text_rows(self, sql: str, params: dict[str, Any] | None = None, *,
                        settings: dict[str, Any] | None = None, query_id: str | None = None,
                        progress: Progress | None = None) -> tuple[list[tuple[Any, ...]], int]:
        """Rows as JSON values, and how many rows the query had before its outer LIMIT
        (ClickHouse's ``rows_before_limit_at_least``)."""

    def kill_query(self, query_id: str) -> int:
        """Stop the running statements named ``query_id`` and wait until they have stopped (KILL
        QUERY … SYNC); how many were stopped. The stopped statement fails (QUERY_WAS_CANCELLED)."""

    def running(self, query_id: str) -> int:
        """How many statements named ``query_id`` are running (system.processes)."""

    def insert_arrow(self, table: str, data: pa.Table, *, dedup_token: str | None = None) -> int:
        """Append an Arrow table to ``table`` in the database; columns are matched by name. A retry
        carrying the same ``dedup_token`` inserts nothing (on tables with a dedup window)."""

    def matching_rows(self, predicate: str, params: dict[str, Any], messages: pa.Array) -> list[int]:
        """Positions of ``messages`` for which a boolean expression over ``message`` holds."""

    def ping(self) -> None:
        """Raise if the store cannot answer ``SELECT 1``."""

    def close(self) -> None:
        """Release the engine. Safe to call twice."""


def open_executor(url: str, path: str, database: str, limits: QueryLimits | None = None) -> Executor:
    """Open the executor a settings URL names. Empty URL: embedded chdb at ``path``."""
    if not url or url.startswith("chdb:"):
        from rexwatch.stores.telemetry.chdb import ChdbExecutor, engine_for

        target = url[len("chdb:") :] if url.startswith("chdb:") else path
        return ChdbExecutor(engine_for(target), database, limits)
    raise ConfigError(f"telemetry_url {url!r} is not supported yet: leave it empty for the embedded store")

"""Running compiled Logs Insights queries against the log events (the only place they meet SQL).

The compiler (``rexwatch.lang.insights``) turns a query into one statement over an
event source (``stores/telemetry/logs.py``); this module runs it with the query's
time limit. The source names the database as a query parameter, so nothing in
the statement, string literals included, is ever rewritten as text.
"""

from __future__ import annotations

from typing import Any

from rexwatch.lang.insights import CompiledQuery
from rexwatch.stores.telemetry.executor import Executor, Progress

Source = tuple[str, dict[str, Any]]


class InsightsStore:
    def __init__(self, executor: Executor) -> None:
        self.x = executor

    @property
    def embedded(self) -> bool:
        return bool(getattr(self.x, "embedded", False))

    @staticmethod
    def query_sql(compiled: CompiledQuery, source: Source, *, indexed: frozenset[str], limit: int | None,
                  account_id: str, with_matched: bool = False) -> tuple[str, dict[str, Any]]:
        """The statement a query runs over ``source``."""
        return compiled.to_sql(source[0], source[1], indexed_fields=indexed, limit=limit, account_id=account_id,
                               with_matched=with_matched)

    def run(self, compiled: CompiledQuery, source: Source, *, indexed: frozenset[str], limit: int | None,
            account_id: str, timeout_s: float, query_id: str | None = None,
            progress: Progress | None = None) -> tuple[list[tuple], int | None]:
        """The result rows, and the number of matched events when the statement itself counts them
        (``matched_strategy`` ``before_limit``: the rows before the query's LIMIT). ``query_id``
        names the statement for ``kill``; ``progress`` sees the rows read so far while it runs."""
        sql, params = self.query_sql(compiled, source, indexed=indexed, limit=limit, account_id=account_id,
                                     with_matched=True)
        settings: dict[str, Any] = {"max_execution_time": timeout_s}
        if compiled.matched_strategy == "before_limit":
            rows, matched = self.x.query_text_rows(sql, params, settings={**settings, "exact_rows_before_limit": 1},
                                                   query_id=query_id, progress=progress)
            return rows, matched
        return self.x.query_rows(sql, params, settings=settings, query_id=query_id, progress=progress), None

    def kill(self, query_id: str) -> int:
        """Stop the statements named ``query_id`` and return once they have stopped."""
        return self.x.kill_query(query_id)

    def running(self, query_id: str) -> int:
        """How many statements named ``query_id`` the store is running now."""
        return self.x.running(query_id)

    def statistics(self, compiled: CompiledQuery | None, source: Source, totals: Source, *,
                   indexed: frozenset[str], account_id: str, timeout_s: float,
                   query_id: str | None = None) -> tuple[int, int, int]:
        """(records scanned, bytes scanned, records matched). With ``compiled``, one pass also
        counts the events the query's filters match; without, ``totals`` (the plain scan of the
        range) is enough and matched is 0."""
        if compiled is not None:
            sql, params = compiled.statistics_sql(source[0], source[1], indexed_fields=indexed,
                                                  account_id=account_id)
        else:
            sql, params = totals
        out = self.x.query_rows(sql, params, settings={"max_execution_time": timeout_s}, query_id=query_id)
        n, size, counted = (int(v or 0) for v in out[0]) if out else (0, 0, 0)
        return n, size, counted

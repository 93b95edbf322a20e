"""CloudWatch Logs Insights queries compiled to ClickHouse SQL.

    q = compile_query("fields @timestamp, path | filter duration > 1000")
    sql, params = q.to_sql(source_sql, source_params, indexed_fields=frozenset(), limit=None)
    q.output_columns   # ["@timestamp", "path"]

``source_sql`` selects the events (columns ts, ingest_ts, seq, log_group,
log_stream, message, fields); the result has one text column per output
column, in order, NULL where an event lacks the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rexwatch.lang.insights import ast
from rexwatch.lang.insights.parser import parse
from rexwatch.lang.insights.sqlgen import MAX_ROWS, Generator

__all__ = ["MAX_ROWS", "CompiledQuery", "compile_query"]

_CHECK_SOURCE = "SELECT * FROM events"


@dataclass(frozen=True)
class CompiledQuery:
    tree: ast.Query
    output_columns: list[str]
    discovered_fields: frozenset[str]  # JSON field names the query reads (candidates for the fields map)
    matched_strategy: str = "pass"  # "scanned" | "window" | "pass": see Generator.matched_strategy

    @property
    def text(self) -> str:
        return self.tree.text

    @property
    def is_aggregate(self) -> bool:
        return any(isinstance(c, (ast.Stats, ast.Pattern)) for c in self.tree.commands)

    def to_sql(self, source_sql: str, source_params: dict[str, Any] | None = None, *,
               indexed_fields: frozenset[str] = frozenset(), limit: int | None = None,
               account_id: str = "000000000000", with_matched: bool = False) -> tuple[str, dict[str, Any]]:
        """The statement; with_matched adds a last column ``__matched`` (events the filters kept) when
        ``matched_strategy`` is "window"."""
        gen = Generator(self.tree, source_sql, frozenset(indexed_fields))
        sql, _ = gen.generate(limit, with_matched)
        params = {**(source_params or {}), **gen.params.values}
        params["rx_account"] = account_id
        return sql, params

    def statistics_sql(self, source_sql: str, source_params: dict[str, Any] | None = None, *,
                       indexed_fields: frozenset[str] = frozenset(),
                       account_id: str = "000000000000") -> tuple[str, dict[str, Any]]:
        """One pass over the source: (records scanned, bytes scanned, records matched by the filters)."""
        gen = Generator(self.tree, source_sql, frozenset(indexed_fields))
        gen.generate(None)
        conds = gen.event_filters or []
        matched = "count()" if not conds else "countIf(" + " AND ".join(f"({c})" for c in conds) + ")"
        sql = f"SELECT count(), sum(length(message)), {matched}\nFROM (\n{source_sql}\n) AS src"
        params = {**(source_params or {}), **gen.params.values}
        params["rx_account"] = account_id
        return sql, params


def compile_query(text: str) -> CompiledQuery:
    """Parse and check a query; raises QueryError with the position of the first problem."""
    tree = parse(text)
    gen = Generator(tree, _CHECK_SOURCE, frozenset())
    _, names = gen.generate(None)
    return CompiledQuery(tree, names, frozenset(gen.discovered), gen.matched_strategy())

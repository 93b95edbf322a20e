"""Filter patterns for FilterLogEvents, tail, export and TestMetricFilter.

The compiler is ``rexwatch.lang.filterpattern``. This module decides which
JSON paths a query may read from the ``fields`` map instead of parsing each
message: a path counts only when every row the query can see has it there
(see ``indexed_paths``).
"""

from __future__ import annotations

from typing import Any

from rexwatch.lang.filterpattern import FilterPattern, compile_pattern
from rexwatch.services.logs.catalog import Group

# Events may be stamped up to 2 h ahead of their ingestion (PutLogEvents' limit).
FUTURE_MS = 2 * 3600 * 1000


def compile_filter(pattern: str | None) -> FilterPattern:
    """Compile a CloudWatch filter pattern; raises QueryError naming the position of a mistake."""
    return compile_pattern(pattern or "")


def indexed_paths(compiled: FilterPattern, groups: list[Group], start_ms: int | None) -> set[str]:
    """Referenced paths present in ``fields`` for every visible row of every group.

    A path from an index policy counts only for ranges starting after the
    policy was set (plus the 2 h an event may be stamped ahead), since rows
    ingested before lack it; everything else is read from the message.
    """
    out = set()
    for path in compiled.referenced_fields:
        if start_ms is not None and all(
            path in g.index_fields and g.index_policy_ms is not None and start_ms >= g.index_policy_ms + FUTURE_MS
            for g in groups
        ):
            out.add(path)
    return out


def pattern_sql(pattern: str | None, groups: list[Group], start_ms: int | None) -> tuple[str, dict[str, Any]]:
    compiled = compile_filter(pattern)
    return compiled.sql(message_col="message", fields_col="fields",
                        indexed_fields=indexed_paths(compiled, groups, start_ms))

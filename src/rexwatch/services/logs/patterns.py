"""Filter patterns for FilterLogEvents, tail, export and TestMetricFilter.

The compiler is ``rexwatch.lang.filterpattern``. This module decides where a
query may read JSON paths from the ``fields`` map instead of parsing each
message: only in rows ingested under an index policy that names them.
"""

from __future__ import annotations

import itertools
from typing import Any

from rexwatch.lang.filterpattern import FilterPattern, compile_pattern
from rexwatch.services.logs.model import Group
from rexwatch.stores.control.logs_repo import CACHE_TTL_S

# A request validated under the old policy may be inserted a little after the policy changed
# (other nodes cache groups for CACHE_TTL_S; the buffer waits at most a minute): rows ingested
# this long after the change certainly carry the new policy's fields.
POLICY_MARGIN_MS = int((CACHE_TTL_S + 60) * 1000)
_ids = itertools.count()


def compile_filter(pattern: str | None) -> FilterPattern:
    """Compile a CloudWatch filter pattern; raises PatternError naming the position of a mistake."""
    return compile_pattern(pattern or "")


def indexed_paths(compiled: FilterPattern, groups: list[Group]) -> tuple[set[str], int | None]:
    """Referenced paths every group's index policy names, and the ingest time (ms) from which
    every row of those groups carries them in ``fields``."""
    if not groups or any(not g.index_fields for g in groups):
        return set(), None
    common = set(compiled.referenced_fields)
    for g in groups:
        common &= set(g.index_fields)
    if not common:
        return set(), None
    return common, max(g.index_policy_ms or 0 for g in groups) + POLICY_MARGIN_MS


def pattern_sql(pattern: str | None, groups: list[Group]) -> tuple[str, dict[str, Any]]:
    """The pattern as a ClickHouse condition over ``message``, ``fields`` and ``ingest_ts``.

    Rows ingested under the groups' index policies read the indexed paths from
    ``fields``; older rows parse the message (``if`` evaluates only the branch
    each row needs).
    """
    compiled = compile_filter(pattern)
    paths, since = indexed_paths(compiled, groups)
    slow = compiled.sql(message_col="message", fields_col="fields")
    if not paths or since is None:
        return slow
    fast = compiled.sql(message_col="message", fields_col="fields", indexed_fields=paths)
    key = f"pidx{next(_ids)}"
    sql = f"if(ingest_ts >= fromUnixTimestamp64Milli({{{key}:Int64}}, 'UTC'), {fast[0]}, {slow[0]})"
    return sql, {**slow[1], **fast[1], key: since}

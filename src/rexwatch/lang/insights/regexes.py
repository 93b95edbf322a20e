"""Regular expressions in queries: validation, named groups and glob patterns.

ClickHouse runs RE2, which has no lookaround or back-references; those are
rejected here with a position instead of failing inside the database.
"""

from __future__ import annotations

import re

from rexwatch.errors import QueryError

_RE2_SPECIAL = set("\\.^$|?*+()[]{}")
_UNSUPPORTED = (("(?=", "lookahead"), ("(?!", "negative lookahead"), ("(?<=", "lookbehind"),
                ("(?<!", "negative lookbehind"))


def check(pattern: str, query: str, offset: int) -> None:
    """Raise QueryError if ``pattern`` is not a valid RE2 expression (``offset`` = position of the ``/``)."""
    for token, what in _UNSUPPORTED:
        k = pattern.find(token)
        if k >= 0:
            raise QueryError(f"{what} ({token}...) is not supported in regular expressions", query=query,
                             start=offset + 1 + k, end=offset + 1 + k + len(token))
    m = re.search(r"\\[1-9]", pattern)
    if m:
        raise QueryError("back-references are not supported in regular expressions", query=query,
                         start=offset + 1 + m.start(), end=offset + 1 + m.end())
    try:
        re.compile(to_clickhouse(pattern))
    except re.error as e:
        pos = offset + 1 + (e.pos or 0)
        raise QueryError(f"invalid regular expression: {e.msg}", query=query, start=pos, end=pos + 1)


def to_clickhouse(pattern: str) -> str:
    """Named groups become plain groups: fields are taken by group number, and RE2 is strict about
    group names (Insights allows names such as ``user.id``)."""
    return re.sub(r"\(\?P?<([A-Za-z_@][A-Za-z0-9_.@]*)>", "(", pattern)


def capture_groups(pattern: str) -> list[str | None]:
    """Names of the capturing groups in order (None for unnamed ones)."""
    groups: list[str | None] = []
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            if pattern.startswith("[]", i) or pattern.startswith("[^]", i):
                i += 2 if pattern[i + 1] == "]" else 3
                continue
        elif c == "(":
            if pattern.startswith("(?P<", i) or (pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in ("=", "!")):
                k = pattern.index("<", i) + 1
                end = pattern.find(">", k)
                groups.append(pattern[k:end])
            elif not pattern.startswith("(?", i):
                groups.append(None)
        i += 1
    return groups


def glob_to_regex(glob: str) -> str:
    """``"user=* id=*"`` -> ``user=(.*?) id=(.*)``: lazy wildcards, the last one greedy."""
    parts = glob.split("*")
    out = []
    for k, part in enumerate(parts):
        out.append("".join("\\" + ch if ch in _RE2_SPECIAL else ch for ch in part))
        if k < len(parts) - 1:
            out.append("(.*)" if k == len(parts) - 2 else "(.*?)")
    return "".join(out)

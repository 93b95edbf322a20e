"""Filter patterns for FilterLogEvents, tail, export and TestMetricFilter.

The compiler lives in ``rexwatch.lang.filterpattern``; until it is present a
minimal stand-in handles the empty pattern and plain terms / quoted phrases so
the rest of the logs service works. Everything calls ``compile_filter``.
"""

from __future__ import annotations

import itertools
import shlex
from typing import Any, Protocol

from rexwatch.errors import QueryError


class CompiledPattern(Protocol):
    referenced_fields: set[str]

    def sql(self, message_col: str = "message", fields_col: str = "fields") -> tuple[str, dict[str, Any]]: ...

    def match(self, message: str) -> bool: ...

    def extract(self, message: str) -> dict[str, str] | None: ...


_ids = itertools.count()


class _Terms:
    """Terms and quoted phrases, all required (case-sensitive), as CloudWatch's plain patterns."""

    def __init__(self, pattern: str) -> None:
        stripped = pattern.strip()
        if stripped[:1] in ("{", "[", "%", "?", "-") and stripped:
            raise QueryError("this kind of filter pattern is not supported by this build", query=pattern, start=0)
        try:
            self.terms = [t for t in shlex.split(stripped) if t]
        except ValueError as e:
            raise QueryError(f"unbalanced quotes in filter pattern: {e}", query=pattern, start=len(pattern) - 1)
        self.referenced_fields: set[str] = set()
        self._p = f"fpt{next(_ids)}_"

    def sql(self, message_col: str = "message", fields_col: str = "fields") -> tuple[str, dict[str, Any]]:
        if not self.terms:
            return "1", {}
        parts, params = [], {}
        for i, t in enumerate(self.terms):
            parts.append(f"position({message_col}, {{{self._p}{i}:String}}) > 0")
            params[f"{self._p}{i}"] = t
        return " AND ".join(parts), params

    def match(self, message: str) -> bool:
        return all(t in message for t in self.terms)

    def extract(self, message: str) -> dict[str, str] | None:
        return {} if self.match(message) else None


def compile_filter(pattern: str | None) -> CompiledPattern:
    """Compile a CloudWatch filter pattern; raises QueryError naming the position of a mistake."""
    pattern = pattern or ""
    try:
        from rexwatch.lang.filterpattern import compile_pattern
    except ImportError:
        return _Terms(pattern)
    return compile_pattern(pattern)

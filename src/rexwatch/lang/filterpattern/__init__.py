"""CloudWatch Logs filter patterns, compiled to ClickHouse SQL.

    >>> p = compile_pattern('{ $.duration > 1000 }')
    >>> sql, params = p.sql()                # a boolean expression for WHERE
    >>> p.match('{"duration": 1234}')         # the same semantics in Python
    True

The pipeline is ``tokens`` -> ``parser`` -> ``ast`` -> ``sqlgen`` (ClickHouse)
and ``pyeval`` (Python). ``values`` holds the semantics both back ends share.
The language is documented in docs/filter-patterns.md.
"""

from __future__ import annotations

import itertools
from functools import cached_property

from rexwatch.errors import PatternError, QueryError
from rexwatch.lang.filterpattern import ast, pyeval
from rexwatch.lang.filterpattern.parser import parse
from rexwatch.lang.filterpattern.sqlgen import to_sql
from rexwatch.lang.jsontext import flatten_fields

__all__ = ["FilterPattern", "compile_pattern", "flatten_fields"]

_prefixes = itertools.count()


class FilterPattern:
    """A compiled filter pattern. Build it with ``compile_pattern``."""

    def __init__(self, text: str, tree: ast.Pattern) -> None:
        self.text = text
        self.ast = tree

    def __repr__(self) -> str:
        return f"FilterPattern({self.text!r})"

    @property
    def kind(self) -> str:
        """``all``, ``text``, ``json`` or ``delimited``."""
        return {
            ast.MatchAll: "all",
            ast.TextPattern: "text",
            ast.JsonPattern: "json",
            ast.DelimitedPattern: "delimited",
        }[type(self.ast)]

    def sql(
        self,
        message_col: str = "message",
        fields_col: str = "fields",
        indexed_fields: frozenset[str] | set[str] | None = frozenset(),
        *,
        param_prefix: str | None = None,
    ) -> tuple[str, dict]:
        """A ClickHouse boolean expression and its query parameters.

        ``indexed_fields``: dotted JSON paths present in ``fields_col`` for every
        row (see ``flatten_fields``); the rest are read from the message.
        Parameter names start with ``param_prefix`` (default: unique per call),
        so several patterns can share one query.
        """
        prefix = param_prefix if param_prefix is not None else f"fp{next(_prefixes)}"
        return to_sql(
            self.ast,
            message_col=message_col,
            fields_col=fields_col,
            indexed_fields=frozenset(indexed_fields or ()),
            prefix=prefix,
        )

    def match(self, message: str) -> bool:
        return pyeval.match(self.ast, message)

    def extract(self, message: str) -> dict[str, str] | None:
        """The values the pattern binds, or None when it does not match (see ``pyeval.extract``)."""
        return pyeval.extract(self.ast, message)

    @cached_property
    def referenced_fields(self) -> set[str]:
        """Dotted JSON paths the pattern reads that the ``fields`` map can hold (``duration``,
        ``req.path``, ``tags[0]``; not wildcards or keys with periods)."""
        return {n.dotted for n in ast.walk(self.ast) if isinstance(n, ast.Selector) and n.indexable}


def compile_pattern(text: str | None) -> FilterPattern:
    """Parse ``text``; raises ``rexwatch.errors.QueryError`` naming the position and what was expected."""
    text = text or ""
    try:
        tree = parse(text)
    except QueryError as e:
        # A pattern's errors are told apart from a query's: CloudWatch Logs answers them with
        # InvalidParameterException, not MalformedQueryException.
        raise PatternError(e.detail, query=e.query, start=e.start, end=e.end) from None
    return FilterPattern(text, tree)

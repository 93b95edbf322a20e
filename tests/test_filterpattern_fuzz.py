"""Property tests: any text either compiles or raises QueryError; compiled patterns render and evaluate."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rexwatch.errors import QueryError
from rexwatch.lang.filterpattern import compile_pattern

# Text built from the language's own pieces finds deeper parser paths than random characters.
PIECES = [
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ",",
    "...",
    "&&",
    "||",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "!",
    "&",
    "|",
    "$",
    "$.a",
    "$.a.b",
    "$.a[0]",
    "$.",
    "[1]",
    "IS",
    "NULL",
    "NOT",
    "EXISTS",
    "TRUE",
    "FALSE",
    '"',
    '"x y"',
    "%",
    "%a.*%",
    "%(%",
    "?",
    "-",
    "*",
    "4*",
    "1000",
    "-1.5",
    "1e3",
    "ERROR",
    "é",
    " ",
    "  ",
    "\n",
    "\\",
    "'",
    "status",
    ":",
    "\x00",
]


@settings(
    max_examples=int(os.environ.get("REXWATCH_FUZZ_EXAMPLES", "400")),
    deadline=None,
    derandomize="REXWATCH_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.one_of(st.text(max_size=40), st.lists(st.sampled_from(PIECES), max_size=14).map("".join)))
def test_parser_raises_only_query_error(text):
    try:
        p = compile_pattern(text)
    except QueryError as e:
        assert 0 <= e.start <= len(text)
        assert e.end > e.start
        return
    sql, params = p.sql()
    assert sql
    assert all(name.startswith("fp") for name in params)
    for message in (text, '{"a": {"b": 1}, "status": 404}', '1.2.3.4 - - [x] "GET /" 404 10', ""):
        p.match(message)
        p.extract(message)

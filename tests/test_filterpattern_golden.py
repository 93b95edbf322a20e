"""Golden tests: pattern -> ClickHouse SQL for every construct (tests/fixtures/filterpattern)."""

from __future__ import annotations

import re

import pytest

from golden import load_cases, rewrite, update_enabled
from rexwatch.lang.filterpattern import compile_pattern
from rexwatch.lang.filterpattern.sqlgen import quote

AREA = "filterpattern"


def render(case) -> str:
    """The SQL with its parameters written in place, so one line shows shape and values."""
    indexed = {f.strip() for f in case.options.get("indexed", "").split(",") if f.strip()}
    sql, params = compile_pattern(case.input).sql(indexed_fields=indexed, param_prefix="p")

    def value(m: re.Match) -> str:
        v = params[m.group(1)]
        return quote(v) if isinstance(v, str) else repr(v)

    return re.sub(r"\{(p_\d+):\w+\}", value, sql)


if update_enabled():
    rewrite(AREA, render)

CASES = load_cases(AREA)


def test_golden_files_cover_every_node_type():
    from rexwatch.lang.filterpattern import ast
    from rexwatch.lang.filterpattern.sqlgen import Generator

    seen = set()
    for case in CASES:
        seen |= {type(n) for n in ast.walk(compile_pattern(case.input).ast)}
    assert set(Generator.TRANSFORMS) <= seen


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_golden(case):
    assert render(case) == case.expected

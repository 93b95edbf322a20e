"""Malformed patterns: a QueryError naming what was expected and where."""

from __future__ import annotations

import pytest

from rexwatch.errors import QueryError
from rexwatch.lang.filterpattern import compile_pattern

CASES = [
    # pattern, start offset, words the message must contain
    ('"unclosed', 0, 'closing "'),
    ("ERROR %unclosed", 6, "closing %"),
    ('ERROR ""', 6, "empty quoted phrase"),
    ("%%", 0, "empty regular expression"),
    ("%a(b)%", 2, "( and ) are not supported"),
    ("%something!%", 10, "'!' is not allowed"),
    ("%[a-%", 1, "invalid regular expression"),
    ("ERROR {x}", 6, "JSON or space-delimited"),
    ("{", 1, "expected a selector such as $.field, found the end of the pattern"),
    ("{ }", 2, "expected a condition"),
    ("{ $.level }", 10, "expected =, !=, <, <=, >, >=, IS NULL"),
    ("{ $.level = }", 12, "expected a value after ="),
    (
        '{ $.level = "ERROR"',
        19,
        "expected &&, || or } closing the JSON pattern, found the end of the pattern",
    ),
    ('{ $.level = "ERROR" } extra', 22, "must be the whole filter pattern"),
    ("{ $.duration > fast }", 15, "> compares numbers: expected a number, found 'fast'"),
    ('{ $.duration < "5" }', 15, "< compares numbers"),
    ("{ level = 1 }", 2, "expected a selector such as $.field, found 'level'"),
    ("{ $. = 1 }", 4, "expected a field name after '.'"),
    ("{ $ = 1 }", 2, "expected a selector such as $.field after $"),
    ("{ $.a[x] = 1 }", 5, "expected an array index such as [0]"),
    ("{ $.a IS MAYBE }", 9, "expected NULL, TRUE or FALSE after IS, found 'MAYBE'"),
    ("{ $.a NOT THERE }", 10, "expected EXISTS after NOT"),
    ("{ $.a = 1 & $.b = 2 }", 10, "expected &&"),
    ("{ $.a = 1 | $.b = 2 }", 10, "expected ||"),
    ("{ $.a ! 1 }", 6, "expected !="),
    ("{ ($.a = 1 }", 11, "expected &&, || or ), found '}'"),
    ("{ $.a = 1 && }", 13, "expected a selector"),
    ("{ $.a = %x% && $.b = %y% && $.c = %z% }", 34, "at most 2 regular expressions"),
    ("[", 1, "expected a field name or ..., found the end of the pattern"),
    ("[a, b", 5, "expected , or ] closing the space-delimited pattern"),
    ("[a,]", 3, "expected a field name or ..., found ']'"),
    ("[a, a]", 4, "field name 'a' is used twice"),
    ("[a, 404]", 4, "expected a field name or ..."),
    ("[a = 1 || b = 2]", 10, "a condition in this field can only test a"),
    ("[a, b] x", 7, "must be the whole filter pattern"),
    ("[a > x]", 5, "> compares numbers"),
]


@pytest.mark.parametrize(("text", "start", "words"), CASES, ids=[c[0] for c in CASES])
def test_error_names_position_and_expectation(text, start, words):
    with pytest.raises(QueryError) as info:
        compile_pattern(text)
    err = info.value
    assert words in err.detail, err.detail
    assert err.start == start, (err.start, err.detail)
    assert err.query == text
    assert err.end > err.start
    assert f"column {start + 1}" in str(err)


def test_limits_on_length_and_nesting():
    with pytest.raises(QueryError) as info:
        compile_pattern("x" * 1025)
    assert info.value.start == 1024 and "at most 1024 characters" in info.value.detail
    compile_pattern("x" * 1024)
    deep = "{ " + "(" * 40 + "$.a = 1" + ")" * 40 + " }"
    with pytest.raises(QueryError) as info:
        compile_pattern(deep)
    assert "nest more than 32 deep" in info.value.detail and info.value.start == 2 + 32
    assert compile_pattern("{ " + "(" * 32 + "$.a = 1" + ")" * 32 + " }").match('{"a": 1}')
    wild = "{ " + " && ".join(f"$.a{i}[*] = 1" for i in range(4)) + " }"
    with pytest.raises(QueryError) as info:
        compile_pattern(wild)
    assert "at most 3 wildcard selectors" in info.value.detail and wild[info.value.start :].startswith("$.a3[*]")
    with pytest.raises(QueryError) as info:
        compile_pattern("{ $.a[*].b.* = 1 }")
    assert "one wildcard" in info.value.detail


def test_largest_patterns_run_in_clickhouse(runtime):
    """Patterns at the limits still make SQL ClickHouse accepts (lambda and AST depth)."""
    patterns = [
        "[" + ", ".join(["..."] + [f"f{i}=1, ..." for i in range(80)]) + "]",
        "{ " + " || ".join(f"$.a{i}[*].b = {i}" for i in range(3)) + " }",
        "{ " + "(" * 32 + "$.a = 1" + ")" * 32 + " }",
        "{ " + " && ".join(f"$.a{i} = {i}" for i in range(70)) + " }",
        " ".join(f'-"w{i}:"' for i in range(100)),
        " ".join(f"?t{i % 10}" for i in range(250)),
    ]
    for text in patterns:
        assert len(text) <= 1024
        sql, params = compile_pattern(text).sql()
        rows = runtime.telemetry.query_rows(
            f"SELECT {sql} AS matched FROM (SELECT '1 1 1 1 1 1 1 1 1' AS message, map('a', '1') AS fields)", params
        )
        assert rows[0][0] in (0, 1)


def test_error_snippet_points_at_the_problem():
    with pytest.raises(QueryError) as info:
        compile_pattern("{ $.duration > fast }")
    assert info.value.snippet() == "{ $.duration > fast }\n               ^^^^"


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_pattern_matches_everything(text):
    p = compile_pattern(text)
    assert p.sql() == ("1", {})
    assert p.match("anything") and p.match("")
    assert p.extract("x") == {}

"""Logs Insights compiler: golden query -> SQL fixtures for every command, and error positions.

Fixtures live in tests/fixtures/insights/*.txt: cases separated by a line ``====``, each a query,
a line ``;`` and the expected SQL. Set REXWATCH_REGEN_GOLDEN=1 to rewrite the expected SQL after an
intended change of the generator (and review the diff).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from rexwatch.errors import QueryError
from rexwatch.lang.insights import compile_query
from rexwatch.lang.insights.exprgen import sql_str

FIXTURES = Path(__file__).parent / "fixtures" / "insights"
SOURCE = "SELECT * FROM events"
INDEXED = frozenset({"level"})
SEP = "\n====\n"


def load_cases(path: Path) -> list[tuple[str, str]]:
    cases = []
    for block in path.read_text().split(SEP):
        lines = block.strip("\n").split("\n")
        if ";" not in lines:
            continue
        k = lines.index(";")
        cases.append(("\n".join(lines[:k]).strip(), "\n".join(lines[k + 1 :]).strip()))
    return cases


def compile_sql(query: str) -> str:
    """The SQL with the query's strings (parameters ``iq_N``) written in place, so one text shows all."""
    sql, params = compile_query(query).to_sql(SOURCE, {}, indexed_fields=INDEXED)
    assert params.pop("rx_account") == "000000000000"
    assert all(re.fullmatch(r"iq_[0-9]+", k) for k in params)
    return re.sub(r"\{(iq_[0-9]+):String\}", lambda m: sql_str(params[m.group(1)]), sql)


def golden_params():
    for path in sorted(FIXTURES.glob("*.txt")):
        for k, (query, expected) in enumerate(load_cases(path)):
            yield pytest.param(path, query, expected, id=f"{path.stem}-{k}")


@pytest.mark.parametrize(("path", "query", "expected"), list(golden_params()))
def test_golden_sql(path: Path, query: str, expected: str) -> None:
    actual = compile_sql(query)
    if os.environ.get("REXWATCH_REGEN_GOLDEN"):
        cases = load_cases(path)
        text = SEP.join(f"{q}\n;\n{compile_sql(q) if q == query else e}" for q, e in cases)
        path.write_text(text + "\n")
        return
    assert actual == expected


def test_every_command_has_a_fixture() -> None:
    from rexwatch.lang.insights.parser import COMMANDS

    text = "\n".join(p.read_text() for p in FIXTURES.glob("*.txt"))
    for command in COMMANDS:
        assert f"{command} " in text, command


def test_output_columns_keep_insights_names() -> None:
    assert compile_query("stats count() by path").output_columns == ["path", "count()"]
    assert compile_query("stats count(*) as n, avg(duration) by bin(5m)").output_columns == [
        "bin(5m)", "n", "avg(duration)"]
    assert compile_query("filter x = 1").output_columns == ["@timestamp", "@message"]
    assert compile_query("fields a, b as c | fields strlen( d )").output_columns == ["a", "c", "strlen( d )"]
    assert compile_query("fields a, b | display b").output_columns == ["b"]
    assert compile_query("pattern @message").output_columns == [
        "@pattern", "@sampleCount", "@ratio", "@severityLabel"]


# (query, message fragment, text at the error position)
ERRORS = [
    ("", "the query is empty", ""),
    ("fields", "expected a field, value or function but found the end of the query", ""),
    ("fields a |", "expected a command after '|'", ""),
    ("fields a | | limit 1", "expected a command before '|'", "|"),
    ("feilds a", "unknown command 'feilds'", "feilds"),
    ("unmask @message", "not supported", "unmask"),
    ("filter a = ", "expected a field, value or function", ""),
    ("filter a == 1", "expected a field, value or function but found '='", "="),
    ("fields strlenn(path)", "unknown function 'strlenn' (did you mean strlen?)", "strlenn"),
    ("fields count()", "count() is an aggregate function: use it in stats", "count"),
    ("stats path", "stats needs an aggregate function", "path"),
    ("stats count() + duration", "every field must be inside an aggregate", "count() + duration"),
    ("stats sum(max(x))", "cannot be nested", "max"),
    ("stats count() by sum(x)", "cannot be a group", "sum(x)"),
    ("stats sum(@message)", "sum() expects a number, but @message is a string", "@message"),
    ("stats avg(@timestamp)", "avg() expects a number, but @timestamp is a timestamp", "@timestamp"),
    ("stats count() by bin(duration)", "bin() expects a time period such as 5m", "duration"),
    ("stats count() by bin(5x)", "unknown time unit 'x'", "x"),
    ("fields 5m", "only valid inside bin()", "5m"),
    ("stats pct(duration, 120)", "percentile between 0 and 100", "120"),
    ("fields substr(path)", "substr() takes 2 to 3 arguments, got 1", "substr(path)"),
    ("fields @foo", "unknown field @foo", "@foo"),
    ("fields @mesage", "did you mean @message?", "@mesage"),
    ("stats count() as n by path | sort duration", "field 'duration' is not available after stats", "duration"),
    ("stats count() as n by path | stats earliest(n)", "needs @timestamp", "earliest"),
    ("stats count(), count()", "stats names 'count()' twice", "count()"),
    ("filter @message like 5", "expected a /regular expression/ or a \"string\" after like", "5"),
    ("filter @message like /(?=x)/", "lookahead", "(?="),
    ("filter @message like /a(b/", "invalid regular expression: missing )", "("),
    ('filter path = "abc', "unterminated string", '"abc'),
    ("filter x in [1, y]", "only strings, numbers and booleans", "y"),
    ("limit ten", "expected a whole number after limit but found 'ten'", "ten"),
    ("limit 0", "limit must be at least 1", "0"),
    ('parse @message "[*] *" as a', "the pattern has 2 '*' but 1 names", "a"),
    ('parse @message "abc" as a', "no '*' to capture", '"abc"'),
    ("parse @message /(\\d+)/", "no named group", "/(\\d+)/"),
    ("fields a b", "expected '|' or the end of the query but found 'b'", "b"),
    ("sort", "expected a field to sort by", ""),
    ("fields abs(@message)", "abs() expects a number, but @message is a string", "@message"),
    ("filter not", "expected a field, value or function but found the end of the query", ""),
    ("fields a as", "expected a name after 'as'", ""),
    ("fields (a", "expected ')'", ""),
    ("stats count(path, 1)", "count() takes", "count(path, 1)"),
    ("stats sum(*)", "only count(*) takes *", "*"),
    ("filter @message", "expected a condition, but @message is a string", "@message"),
    ("fields 1e999", "the number 1e999 is out of range", "1e999"),
    ("filter x > 1" + "0" * 400, "is out of range", "1" + "0" * 400),
    ("fields " + "(" * 60 + "1" + ")" * 60, "nesting is deeper than 50 levels", "("),
]


@pytest.mark.parametrize(("query", "message", "at"), ERRORS, ids=[e[0] or "empty" for e in ERRORS])
def test_errors_name_what_was_expected_and_where(query: str, message: str, at: str) -> None:
    with pytest.raises(QueryError) as info:
        compile_query(query)
    err = info.value
    assert message in err.detail, err.detail
    assert query[err.start : err.end] == at or (at == "" and err.start >= len(query.rstrip()) - 1), (
        err.start, err.end, query[err.start : err.end])


def test_error_reports_line_and_column() -> None:
    with pytest.raises(QueryError) as info:
        compile_query("fields @timestamp\n| filter duration >\n| limit 5")
    err = info.value
    assert (err.line, err.col) == (3, 1)
    assert "line 3, column 1" in str(err)
    assert err.snippet() == "| limit 5\n^"


def test_deep_trees_are_clear_errors() -> None:
    """Left-deep chains (1+1+1+…) are bounded too: the generator walks them by recursion."""
    for query in ["fields " + "+".join(["1"] * 3000), "filter " + " and ".join(["a = 1"] * 1000),
                  "filter " + "not " * 1000 + "a"]:
        with pytest.raises(QueryError) as e:
            compile_query(query)
        assert "levels" in e.value.detail, query[:20]
    compile_query("filter " + " and ".join(["a = 1"] * 190))  # a long but plausible chain compiles


def test_strings_travel_as_parameters() -> None:
    """No text of the query is spliced into the SQL, so no substitution over it (``{db}``) can reach it."""
    q = compile_query("filter @message = '{db}' and `{db}.x` like /{db}/ and y in ['{db}'] "
                      "| parse @message '{db} *' as z | fields '{db}' as w")
    sql, params = q.to_sql("SELECT * FROM {db:Identifier}.log_events", {})
    assert sql.count("{db:Identifier}") == 1  # the source's own table
    assert params["iq_0"] == "{db}" and params["iq_1"] == "x" and params["iq_2"] == "y"

"""Composite alarm rule expressions: parse, evaluate, and point at errors."""

from __future__ import annotations

import pytest

from rexwatch.errors import QueryError
from rexwatch.lang.alarmrule import alarm_name_of, compile_rule

STATES = {"a": "ALARM", "b": "OK", "c": "INSUFFICIENT_DATA", "my alarm": "ALARM"}


@pytest.mark.parametrize(
    "rule, expected",
    [
        ("ALARM(a) AND NOT OK(b)", False),
        ("ALARM(a) AND NOT ALARM(b)", True),
        ("ALARM(a) OR ALARM(b)", True),
        ("ALARM(b) OR ALARM(c)", False),
        ("INSUFFICIENT_DATA(c)", True),
        ("TRUE", True),
        ("FALSE", False),
        ("NOT FALSE AND FALSE", False),  # NOT binds tighter than AND
        ("ALARM(b) AND ALARM(a) OR TRUE", True),  # AND binds tighter than OR
        ("ALARM(b) AND (ALARM(a) OR TRUE)", False),
        ('ALARM("my alarm") AND OK("b")', True),
        (
            "ALARM(arn:aws:cloudwatch:us-east-1:000000000000:alarm:a)",
            False,
        ),  # name lookup is the caller's job
        ("ALARM(missing)", False),
    ],
)
def test_rules_evaluate(rule, expected):
    assert compile_rule(rule).evaluate(STATES.get) is expected


def test_referenced_alarms_in_order():
    r = compile_rule('ALARM(a) OR (OK("my alarm") AND NOT ALARM(a)) OR INSUFFICIENT_DATA(c)')
    assert r.alarms == ["a", "my alarm", "c"]
    assert alarm_name_of("arn:aws:cloudwatch:us-east-1:1:alarm:x:y") == "x:y"


@pytest.mark.parametrize(
    "rule, col, fragment",
    [
        ("ALARM(a) AND", 13, "ends where a condition"),
        ("ALARM(a) AND OK b", 17, "expected '(' after OK"),
        ("(ALARM(a) OR OK(b)", 19, "expected ')'"),
        ("ALARM(a) alarm(b)", 10, "expected AND, OR"),
        ("alarm(a)", 1, "upper case"),
        ('ALARM("a)', 7, "unterminated"),
        ("ALARM()", 7, "expected an alarm name"),
        ("", 1, "empty"),
        ("MAYBE(a)", 1, "expected ALARM(...)"),
    ],
)
def test_errors_point_at_the_problem(rule, col, fragment):
    with pytest.raises(QueryError) as e:
        compile_rule(rule)
    assert fragment in e.value.message
    assert e.value.col == col


def test_deep_rules_are_clear_errors():
    for rule in ["NOT " * 2500 + "TRUE", "(" * 5000 + "TRUE" + ")" * 5000]:
        with pytest.raises(QueryError) as e:
            compile_rule(rule)
        assert "nesting is deeper than 50 levels" in e.value.detail
    # Long AND/OR chains are flat: no depth, however many alarms they name.
    wide = " OR ".join(f"ALARM(a{i})" for i in range(600))
    assert compile_rule(wide).evaluate({"a599": "ALARM"}.get) is True
    assert len(compile_rule(wide).alarms) == 600

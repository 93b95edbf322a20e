"""The pure alarm evaluator, driven by the text cases in fixtures/alarms/*.test."""

from __future__ import annotations

from pathlib import Path

import pytest

from alarm_dsl import T0, DslError, run_file
from rexwatch.services.alarms.evaluate import (
    AlarmConfig,
    AlarmState,
    StateValue,
    evaluate,
    java_double,
)

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "alarms").glob("*.test"))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture(path):
    assert run_file(path) > 0


def test_dsl_reports_a_wrong_expectation(tmp_path):
    f = tmp_path / "bad.test"
    f.write_text(
        "alarm a period=60 evaluation_periods=1 threshold=1 operator=GreaterThanThreshold\n"
        "load 0 1m 5\nat 1m\nexpect OK\n"
    )
    with pytest.raises(DslError, match=r"bad\.test:4"):
        run_file(f)


def test_java_double_matches_cloudwatch_rendering():
    assert java_double(80) == "80.0"
    assert java_double(0.005) == "0.005"
    assert java_double(99.83274983791787) == "99.83274983791787"
    assert java_double(1e-4) == "1.0E-4"
    assert java_double(15000000) == "1.5E7"
    assert java_double(-2.5) == "-2.5"


def test_no_clock_read_and_deterministic():
    cfg = AlarmConfig(
        period=60, evaluation_periods=1, threshold=1, comparison_operator="GreaterThanThreshold"
    )
    a = evaluate(cfg, AlarmState(StateValue.OK), [(T0, 5.0)], T0 + 61)
    b = evaluate(cfg, AlarmState(StateValue.OK), [(T0, 5.0)], T0 + 61)
    assert a == b and a.new == StateValue.ALARM and a.timestamp == T0 + 61

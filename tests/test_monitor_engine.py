"""The state machines alone: ELB thresholds, retries, flapping and the notification rules."""

from __future__ import annotations

import pytest

from rexwatch.services.monitors.engine import (
    MonitorState,
    TargetState,
    monitor_step,
    notify_decision,
    target_step,
)
from rexwatch.services.monitors.matcher import matches, parse_matcher


def run_target(outcomes: str, healthy: int = 2, unhealthy: int = 3, reason: str = "status") -> list[str]:
    t = TargetState()
    states = []
    for ch in outcomes:
        t = target_step(t, ch == "1", healthy_threshold=healthy, unhealthy_threshold=unhealthy, fail_reason=reason)
        states.append(t.state[0])  # i(nitial) h(ealthy) u(nhealthy)
    return states


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ("11", "ih"),  # healthy_threshold = 2 passes
        ("1011", "iiih"),  # a failure resets the pass count
        ("000", "iiu"),  # unhealthy_threshold = 3 failures from initial
        ("11001", "ihhhh"),  # two failures do not make a healthy target unhealthy
        ("110001", "ihhhuu"),  # the third does; one pass does not make it healthy
        ("11000101", "ihhhuuuu"),  # neither does a pass followed by a failure
        ("1100011", "ihhhuuh"),  # two consecutive passes do
    ],
)
def test_target_thresholds(outcomes, expected):
    assert "".join(run_target(outcomes)) == expected


def test_target_reason_follows_latest_failure():
    t = TargetState()
    for _ in range(3):
        t = target_step(t, False, healthy_threshold=2, unhealthy_threshold=3, fail_reason="timeout")
    assert (t.state, t.reason) == ("unhealthy", "Target.Timeout")
    t = target_step(t, False, healthy_threshold=2, unhealthy_threshold=3, fail_reason="status")
    assert t.reason == "Target.ResponseCodeMismatch"
    t = target_step(t, False, healthy_threshold=2, unhealthy_threshold=3, fail_reason="connect")
    assert t.reason == "Target.FailedHealthChecks"
    for _ in range(2):
        t = target_step(t, True, healthy_threshold=2, unhealthy_threshold=3)
    assert (t.state, t.reason, t.description) == ("healthy", None, None)


def test_monitor_retries():
    s = MonitorState()
    seen = []
    for ok in (True, False, False, False, True):
        s = monitor_step(s, ok, retries=2)
        seen.append(s.status)
    assert seen == ["up", "pending", "pending", "down", "up"]
    assert monitor_step(MonitorState(), False, retries=0).status == "down"


def test_flapping_enters_on_fourth_change_and_leaves_when_calm():
    s = MonitorState()
    for ok in [True] * 10:
        s = monitor_step(s, ok, retries=0)
    for changes, ok in enumerate((False, True, False, True), start=1):
        s = monitor_step(s, ok, retries=0)
        assert s.flapping == (changes >= 4)
    for _ in range(17):
        s = monitor_step(s, True, retries=0)
    assert s.flapping is True  # still three changes in the last 20 outcomes
    for _ in range(3):
        s = monitor_step(s, True, retries=0)
    assert s.flapping is False


@pytest.mark.parametrize(
    ("status", "last", "flapping", "maint", "expected"),
    [
        ("up", None, False, False, (None, "up")),  # first up is silent
        ("down", None, False, False, ("down", "down")),
        ("down", "up", False, False, ("down", "down")),
        ("up", "down", False, False, ("up", "up")),
        ("down", "down", False, False, (None, "down")),
        ("down", "up", True, False, (None, "up")),  # flapping: hold
        ("down", "up", False, True, (None, "up")),  # maintenance: hold
        ("pending", "up", False, False, (None, "up")),
    ],
)
def test_notify_decision(status, last, flapping, maint, expected):
    assert notify_decision(status, last, flapping=flapping, in_maintenance=maint) == expected


def test_matchers():
    assert parse_matcher("200") == ((200, 200),)
    r = parse_matcher("200,202, 300-399")
    assert matches(r, 202) and matches(r, 350) and not matches(r, 201)
    for bad in ("", "2xx", "99", "300-200", "200-700"):
        with pytest.raises(Exception, match="matcher"):
            parse_matcher(bad)

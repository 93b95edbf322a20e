"""A tiny text DSL for alarm evaluation cases (in the spirit of promqltest).

::

    # a comment
    alarm utm-high-cpu period=300 evaluation_periods=3 threshold=80 operator=GreaterThanThreshold
    state OK                      # current state (default INSUFFICIENT_DATA)
    load 0 5m 85 90 _ 95          # datapoints from T0+0 every 5m; _ = missing; 12:40 = value 12 with 40 samples
    at 20m                        # evaluate at T0+20m (the transition, if any, becomes the state)
    expect ALARM                  # a transition to ALARM ... or: expect none
    expect reason "Threshold Crossed: ..."
    expect data {"recentDatapoints": [85.0, 90.0]}   # keys the StateReasonData must contain

T0 is 2024-11-25T10:00:00Z. Durations: 0, 90s, 5m, 1h, 2d.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from rexwatch.services.alarms.evaluate import (
    AlarmConfig,
    AlarmState,
    Datapoint,
    StateValue,
    Transition,
    evaluate,
)

T0 = dt.datetime(2024, 11, 25, 10, 0, tzinfo=dt.UTC).timestamp()
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_KEYS = {
    "period": ("period", int),
    "evaluation_periods": ("evaluation_periods", int),
    "datapoints_to_alarm": ("datapoints_to_alarm", int),
    "threshold": ("threshold", float),
    "operator": ("comparison_operator", str),
    "treat_missing": ("treat_missing_data", str),
    "statistic": ("statistic", str),
    "extended_statistic": ("extended_statistic", str),
    "low_sample": ("evaluate_low_sample_count_percentile", str),
}


def duration(text: str) -> float:
    if text[-1] in _UNITS:
        return float(text[:-1]) * _UNITS[text[-1]]
    return float(text)


@dataclass
class Case:
    name: str
    line: int
    config: AlarmConfig
    state: StateValue = StateValue.INSUFFICIENT_DATA
    points: dict[float, Datapoint] = field(default_factory=dict)
    last: Transition | None = None
    evaluated: bool = False


class DslError(AssertionError):
    pass


def run_file(path: Path) -> int:
    """Run every case in ``path``; raise DslError naming file:line on the first failure.

    Returns the number of ``expect`` lines checked.
    """
    case: Case | None = None
    checked = 0
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        where = f"{path.name}:{lineno}"
        words = shlex.split(line)
        cmd, args = words[0], words[1:]
        if cmd == "alarm":
            kw: dict = {}
            for a in args[1:]:
                k, _, v = a.partition("=")
                if k not in _KEYS:
                    raise DslError(f"{where}: unknown alarm key {k!r}")
                attr, conv = _KEYS[k]
                kw[attr] = conv(v)
            case = Case(args[0], lineno, AlarmConfig(**kw))
            continue
        if case is None:
            raise DslError(f"{where}: {cmd!r} before any 'alarm' line")
        if cmd == "state":
            case.state = StateValue(args[0])
        elif cmd == "load":
            t, step = T0 + duration(args[0]), duration(args[1])
            for v in args[2:]:
                if v != "_":
                    value, _, count = v.partition(":")
                    case.points[t] = Datapoint(t, float(value), float(count) if count else None)
                t += step
        elif cmd == "at":
            case.last = evaluate(
                case.config, AlarmState(case.state), list(case.points.values()), T0 + duration(args[0])
            )
            case.evaluated = True
            if case.last is not None:
                case.state = case.last.new
        elif cmd == "expect":
            if not case.evaluated:
                raise DslError(f"{where}: 'expect' before 'at'")
            checked += 1
            what = args[0]
            got = case.last
            if what == "none":
                if got is not None:
                    raise DslError(
                        f"{where} [{case.name}]: expected no transition, got {got.old} -> {got.new}"
                        f" ({got.reason})"
                    )
            elif what == "reason":
                if got is None or got.reason != args[1]:
                    raise DslError(
                        f"{where} [{case.name}]: reason\n  expected {args[1]!r}\n"
                        f"  got      {got.reason if got else None!r}"
                    )
            elif what == "data":
                want = json.loads(line.split(None, 2)[2])
                have = json.loads(got.reason_data) if got else {}
                for k, v in want.items():
                    if have.get(k) != v:
                        raise DslError(
                            f"{where} [{case.name}]: reason data {k}: expected {v!r}, got {have.get(k)!r}"
                        )
            else:
                state = StateValue(what)
                if got is None or got.new != state:
                    raise DslError(
                        f"{where} [{case.name}]: expected transition to {state}, got "
                        f"{'none' if got is None else f'{got.old} -> {got.new}: {got.reason}'}"
                    )
        else:
            raise DslError(f"{where}: unknown command {cmd!r}")
    return checked

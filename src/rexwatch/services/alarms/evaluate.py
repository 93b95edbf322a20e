"""CloudWatch alarm evaluation as a pure function of time.

``evaluate(alarm, state, datapoints, now)`` decides whether a metric alarm
changes state. It reads no clock and no store: the caller passes the alarm's
configuration, its current state, the aggregated datapoints of the evaluation
range (one per period, timestamped at the period start) and the evaluation
time. It returns a ``Transition`` (with CloudWatch's StateReason text and
StateReasonData JSON) or ``None`` when the state stays as it is.

The rules follow CloudWatch's documented behaviour:

* Periods are aligned to multiples of ``Period`` (as GetMetricStatistics
  buckets are); the newest evaluated period is the last complete one before
  ``now``.
* The *evaluation range* is ``EvaluationPeriods + EXTRA_PERIODS`` periods. If
  the range holds at least N real datapoints, the newest N real ones are
  evaluated and missing-data treatment does not apply. Otherwise all real
  datapoints of the range are used and the rest of the N are missing.
* An alarm goes to ALARM when at least ``DatapointsToAlarm`` (M) of the N
  evaluated datapoints breach, to OK otherwise.
* Missing datapoints (only as few as needed):
  ``breaching`` / ``notBreaching`` fill them as breaching / not breaching;
  ``ignore`` keeps the current state unless the real datapoints decide the
  outcome whatever the missing ones would be; ``missing`` (the default) goes
  to INSUFFICIENT_DATA when the range holds no real datapoint and otherwise
  decides on the real datapoints alone (M capped at their number).
* ``EvaluateLowSampleCountPercentile=ignore`` keeps the state when a
  percentile datapoint in the window has fewer samples than the percentile
  needs to be meaningful (``1 / (1 - p/100)``: 100 samples for p99).
"""

from __future__ import annotations

import enum
import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Periods before the N evaluated ones that are searched for real datapoints.
EXTRA_PERIODS = 2


class StateValue(enum.StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class Comparison(enum.StrEnum):
    GT = "GreaterThanThreshold"
    GE = "GreaterThanOrEqualToThreshold"
    LT = "LessThanThreshold"
    LE = "LessThanOrEqualToThreshold"


THRESHOLD_OPERATORS = {c.value for c in Comparison}
TREAT_MISSING = ("missing", "ignore", "breaching", "notBreaching")

_OP_TEXT = {
    Comparison.GT: "greater than",
    Comparison.GE: "greater than or equal to",
    Comparison.LT: "less than",
    Comparison.LE: "less than or equal to",
}


@dataclass(frozen=True)
class AlarmConfig:
    """What the evaluator needs of a metric alarm."""

    period: int
    evaluation_periods: int
    threshold: float
    comparison_operator: str
    datapoints_to_alarm: int | None = None
    treat_missing_data: str = "missing"
    statistic: str | None = "Average"
    extended_statistic: str | None = None
    evaluate_low_sample_count_percentile: str | None = None

    @property
    def m(self) -> int:
        return self.datapoints_to_alarm or self.evaluation_periods


@dataclass(frozen=True)
class AlarmState:
    value: StateValue = StateValue.INSUFFICIENT_DATA


@dataclass(frozen=True)
class Datapoint:
    """One aggregated period: ``ts`` is the period start in epoch seconds."""

    ts: float
    value: float
    sample_count: float | None = None


@dataclass(frozen=True)
class Transition:
    old: StateValue
    new: StateValue
    reason: str
    reason_data: str
    timestamp: float
    # The datapoints that were evaluated, newest first (for history and backtests).
    evaluated: tuple[Datapoint, ...] = field(default=(), compare=False)


def breaches(op: str, value: float, threshold: float) -> bool:
    if op == Comparison.GT:
        return value > threshold
    if op == Comparison.GE:
        return value >= threshold
    if op == Comparison.LT:
        return value < threshold
    if op == Comparison.LE:
        return value <= threshold
    raise ValueError(f"unsupported comparison operator {op!r}")


def window_end(alarm: AlarmConfig, now: float) -> float:
    """End of the newest complete period at ``now``."""
    return math.floor(now / alarm.period) * alarm.period


def range_start(alarm: AlarmConfig, now: float) -> float:
    """Start of the evaluation range at ``now`` (what the statistics query must cover)."""
    return window_end(alarm, now) - (alarm.evaluation_periods + EXTRA_PERIODS) * alarm.period


def _percentile(alarm: AlarmConfig) -> float | None:
    stat = alarm.extended_statistic or ""
    if stat.startswith("p"):
        try:
            return float(stat[1:])
        except ValueError:
            return None
    return None


def _as_points(datapoints: Iterable[Datapoint | tuple]) -> list[Datapoint]:
    out = []
    for d in datapoints:
        p = d if isinstance(d, Datapoint) else Datapoint(*d)
        if p.value is None or (isinstance(p.value, float) and math.isnan(p.value)):
            continue
        out.append(p)
    return out


def evaluate(
    alarm: AlarmConfig,
    state: AlarmState,
    datapoints: Sequence[Datapoint | tuple],
    now: float,
) -> Transition | None:
    """Return the transition ``alarm`` makes at ``now``, or ``None`` if its state stays."""
    n, m, period = alarm.evaluation_periods, alarm.m, alarm.period
    end = window_end(alarm, now)
    start = end - (n + EXTRA_PERIODS) * period
    by_ts: dict[float, Datapoint] = {}
    for p in _as_points(datapoints):
        if start <= p.ts < end:
            by_ts[p.ts] = p  # one per period; a later duplicate wins
    real = sorted(by_ts.values(), key=lambda p: p.ts, reverse=True)
    window = real[:n]
    n_missing = n - len(window)
    current = state.value

    p = _percentile(alarm)
    if p is not None and alarm.evaluate_low_sample_count_percentile == "ignore" and p < 100:
        need = 1.0 / (1.0 - p / 100.0)
        if any(d.sample_count is not None and d.sample_count < need for d in window):
            return None

    flags = [breaches(alarm.comparison_operator, d.value, alarm.threshold) for d in window]
    k_breach = sum(flags)
    treat = alarm.treat_missing_data or "missing"
    fill_note: tuple[int, str] | None = None

    if n_missing == 0:
        new = StateValue.ALARM if k_breach >= m else StateValue.OK
    elif treat == "breaching":
        new = StateValue.ALARM if k_breach + n_missing >= m else StateValue.OK
        fill_note = (n_missing, "Breaching")
    elif treat == "notBreaching":
        new = StateValue.ALARM if k_breach >= m else StateValue.OK
        fill_note = (n_missing, "NonBreaching")
    elif treat == "ignore":
        if not window:
            return None
        if_breaching = k_breach + n_missing >= m
        if_not = k_breach >= m
        if if_breaching != if_not:
            return None
        new = StateValue.ALARM if if_not else StateValue.OK
    else:  # missing
        if not window:
            new = StateValue.INSUFFICIENT_DATA
        else:
            new = StateValue.ALARM if k_breach >= min(m, len(window)) else StateValue.OK

    if new == current:
        return None
    reason = _reason(alarm, new, window, flags, n_missing, fill_note)
    data = _reason_data(alarm, window, end, now)
    return Transition(current, new, reason, data, now, tuple(window))


# ---------------------------------------------------------------- rendering


def java_double(v: float) -> str:
    """Render a float the way CloudWatch (Java's Double.toString) does: 80.0, 1.0E-4, 1.5E7."""
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "-0.0" if math.copysign(1, v) < 0 else "0.0"
    a = abs(v)
    if 1e-3 <= a < 1e7:
        s = repr(v)
        if "e" in s or "E" in s:
            s = f"{v:.17f}".rstrip("0")
        return s if "." in s else s + ".0"
    mant, _, exp = f"{v:.17e}".partition("e")
    # shortest mantissa that round-trips
    for digits in range(1, 18):
        cand = f"{v:.{digits}e}"
        if float(cand) == v:
            mant, _, exp = cand.partition("e")
            break
    mant = mant.rstrip("0")
    if mant.endswith("."):
        mant += "0"
    return f"{mant}E{int(exp)}"


def _reason_time(ts: float) -> str:
    t = time.gmtime(ts)
    return (
        f"{t.tm_mday:02d}/{t.tm_mon:02d}/{t.tm_year % 100:02d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    )


def iso_millis(ts: float) -> str:
    """CloudWatch's timestamp format in alarm JSON: 2024-11-25T10:05:00.000+0000."""
    t = time.gmtime(ts)
    ms = int((ts % 1) * 1000)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        f".{ms:03d}+0000"
    )


def _plural(k: int, word: str) -> str:
    return f"{k} {word}" if k == 1 else f"{k} {word}s"


def _reason(
    alarm: AlarmConfig,
    new: StateValue,
    window: list[Datapoint],
    flags: list[bool],
    n_missing: int,
    fill_note: tuple[int, str] | None,
) -> str:
    if new == StateValue.INSUFFICIENT_DATA:
        k = alarm.evaluation_periods
        return f"Insufficient Data: {_plural(k, 'datapoint')} {'was' if k == 1 else 'were'} unknown."
    if not window and fill_note:
        k, kind = fill_note
        return (
            f"Threshold Crossed: no datapoints were received for {_plural(k, 'period')} and "
            f"{_plural(k, 'missing datapoint')} {'was' if k == 1 else 'were'} treated as [{kind}]."
        )
    op = _OP_TEXT[Comparison(alarm.comparison_operator)]
    want = new == StateValue.ALARM
    chosen = [d for d, f in zip(window, flags, strict=True) if f == want]
    listed = ", ".join(f"{java_double(d.value)} ({_reason_time(d.ts)})" for d in chosen)
    verb = "was" if len(chosen) == 1 else "were"
    text = (
        f"Threshold Crossed: {len(chosen)} out of the last {len(window)} datapoints [{listed}] {verb} "
        f"{op if want else 'not ' + op} the threshold ({java_double(alarm.threshold)})"
    )
    if fill_note:
        k, kind = fill_note
        text += f" and {_plural(k, 'missing datapoint')} {'was' if k == 1 else 'were'} treated as [{kind}]"
    n, m = alarm.evaluation_periods, alarm.m
    if want:
        text += f" (minimum {_plural(m, 'datapoint')} for OK -> ALARM transition)."
    else:
        text += f" (minimum {_plural(n - m + 1, 'datapoint')} for ALARM -> OK transition)."
    return text


def _reason_data(alarm: AlarmConfig, window: list[Datapoint], end: float, now: float) -> str:
    data: dict = {
        "version": "1.0",
        "queryDate": iso_millis(now),
        "startDate": iso_millis(
            min(d.ts for d in window) if window else end - alarm.evaluation_periods * alarm.period
        ),
    }
    if alarm.extended_statistic:
        data["extendedStatistic"] = alarm.extended_statistic
    elif alarm.statistic:
        data["statistic"] = alarm.statistic
    data["period"] = alarm.period
    data["recentDatapoints"] = [float(d.value) for d in reversed(window)]
    data["threshold"] = float(alarm.threshold)
    evaluated = []
    for d in window:
        item: dict = {"timestamp": iso_millis(d.ts)}
        if d.sample_count is not None:
            item["sampleCount"] = float(d.sample_count)
        item["value"] = float(d.value)
        evaluated.append(item)
    data["evaluatedDatapoints"] = evaluated
    return json.dumps(data, separators=(",", ":"))

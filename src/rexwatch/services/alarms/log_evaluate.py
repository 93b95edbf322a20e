"""The log alarm evaluator: a pure function of one query result and the keys already in ALARM.

A result row breaches when its value column compares to the threshold. With
group-by columns each row is a key with its own state: a key that breaches and
was not in ALARM fires, one in ALARM that no longer breaches (or no longer
appears) resolves. Without group-by the alarm has one key, ``""``, whose value
is the most extreme row's (a query that returns nothing counts 0).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from rexwatch.services.alarms.evaluate import Comparison

_OP_SIGN = {Comparison.GT: ">", Comparison.GE: ">=", Comparison.LT: "<", Comparison.LE: "<="}


@dataclass(frozen=True)
class LogRule:
    column: str
    threshold: float
    comparison_operator: str
    group_by: tuple[str, ...] = ()
    top_rows: int = 10

    @classmethod
    def of(cls, config: dict[str, Any]) -> LogRule:
        return cls(
            column=config["column"],
            threshold=float(config["threshold"]),
            comparison_operator=config["comparison_operator"],
            group_by=tuple(config.get("group_by") or ()),
            top_rows=int(config.get("top_rows") or 10),
        )

    def breaches(self, value: float) -> bool:
        op = Comparison(self.comparison_operator)
        t = self.threshold
        return {
            Comparison.GT: value > t,
            Comparison.GE: value >= t,
            Comparison.LT: value < t,
            Comparison.LE: value <= t,
        }[op]

    @property
    def high(self) -> bool:
        """Whether larger values are worse (they sort first among offending rows)."""
        return Comparison(self.comparison_operator) in (Comparison.GT, Comparison.GE)


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: float
    row: dict[str, Any]


@dataclass
class LogDecision:
    state: str  # ALARM when any key breaches, else OK
    fired: list[KeyValue] = field(default_factory=list)  # keys entering ALARM
    held: list[KeyValue] = field(default_factory=list)  # keys staying in ALARM
    resolved: list[str] = field(default_factory=list)  # keys leaving ALARM
    offending: list[KeyValue] = field(default_factory=list)  # breaching keys, worst first (top N)
    reason: str = ""

    def reason_data(self, rule: LogRule) -> str:
        return json.dumps(
            {
                "version": "1.0",
                "column": rule.column,
                "threshold": rule.threshold,
                "offendingRows": [kv.row for kv in self.offending],
            },
            separators=(",", ":"),
        )


def _number(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def key_values(rule: LogRule, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[KeyValue]:
    """The value of each key in a result (rows whose value is not a number are skipped).

    Log fields are the sender's bytes and may hold U+0000, which the control store cannot keep (keys,
    rows and reasons are written there): it becomes U+FFFD, so a crafted value cannot stop the alarm."""
    dicts = [{c: v.replace("\x00", "\ufffd") if isinstance(v, str) else v for c, v in zip(columns, r, strict=False)}
             for r in rows]
    if not rule.group_by:
        vals = [(x, d) for d in dicts if (x := _number(d.get(rule.column))) is not None]
        if not vals:
            return [KeyValue("", 0.0, {rule.column: 0})]
        pick = max if rule.high else min
        x, d = pick(vals, key=lambda p: p[0])
        return [KeyValue("", x, d)]
    out: dict[str, KeyValue] = {}
    for d in dicts:
        x = _number(d.get(rule.column))
        if x is None:
            continue
        key = "|".join(str(d.get(c, "")) for c in rule.group_by)
        if key not in out or (rule.breaches(x) and not rule.breaches(out[key].value)):
            out[key] = KeyValue(key, x, d)
    return list(out.values())


def describe_key(rule: LogRule, kv: KeyValue) -> str:
    if not rule.group_by:
        return f"{rule.column}={kv.value:g}"
    parts = [f"{c}={kv.row.get(c, '')}" for c in rule.group_by]
    return " ".join(parts) + f" ({rule.column}={kv.value:g})"


def evaluate_log(rule: LogRule, in_alarm: Collection[str], values: Sequence[KeyValue]) -> LogDecision:
    """The new state of every key, given the keys in ALARM before this evaluation."""
    breaching = [kv for kv in values if rule.breaches(kv.value)]
    breaching.sort(key=lambda kv: (-kv.value if rule.high else kv.value, kv.key))
    now_keys = {kv.key for kv in breaching}
    d = LogDecision(state="ALARM" if breaching else "OK")
    d.fired = [kv for kv in breaching if kv.key not in in_alarm]
    d.held = [kv for kv in breaching if kv.key in in_alarm]
    d.resolved = sorted(k for k in in_alarm if k not in now_keys)
    d.offending = breaching[: rule.top_rows]
    sign = _OP_SIGN[Comparison(rule.comparison_operator)]
    if breaching:
        shown = ", ".join(describe_key(rule, kv) for kv in (d.fired or breaching)[:5])
        more = len(d.fired or breaching) - 5
        what = "new key" if d.fired else "key"
        count = len(d.fired or breaching)
        d.reason = (
            f"Threshold Crossed: {count} {what}{'s' if count != 1 else ''} with {rule.column} {sign} "
            f"{rule.threshold:g}: {shown}" + (f" and {more} more" if more > 0 else "")
        )
    else:
        d.reason = f"Threshold Crossed: no result row has {rule.column} {sign} {rule.threshold:g}"
    return d

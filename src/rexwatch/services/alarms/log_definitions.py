"""Validation of log alarm definitions (pure): LogAlarmDefinition -> AlarmRecord of kind ``log``.

A log alarm lives in the ``alarms`` table beside metric and composite alarms,
so states, history, mute rules, acknowledgement and re-notification work on it
by name unchanged; its query, window and threshold sit in ``config``. CloudWatch
has no alarm on a Logs Insights query, so log alarms are a native kind: the AWS
door does not list them, the REST API (``/api/v1/log-alarms``) and the CLI
(``rexwatch log-alarms``) manage them.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Sequence
from typing import Any

from rexwatch.errors import Invalid, LimitExceeded, QueryError
from rexwatch.lang.insights import compile_query
from rexwatch.services.alarms.definitions import MAX_ACTIONS, check_name, check_tags, resolve_account
from rexwatch.services.alarms.evaluate import THRESHOLD_OPERATORS
from rexwatch.services.alarms.model import Actions, AlarmRecord, LogAlarmDefinition
from rexwatch.timeparse import parse_duration

MIN_EVERY = 60
MAX_EVERY = 86_400
MAX_WINDOW = 7 * 86_400
MAX_GROUPS = 50
MAX_TOP_ROWS = 100
# Result rows one evaluation reads: the query runs with this LIMIT, so a query that groups by a
# high-cardinality field cannot make an evaluation read (or store) an unbounded result.
MAX_KEYS = 1000
BLOCK_PREFIX = "block-ip:"
MIN_BLOCK = 60
MAX_BLOCK = 365 * 86_400
_COLUMN = re.compile(r"[A-Za-z_@][A-Za-z0-9_.@-]{0,127}")


def is_block_action(action: str) -> bool:
    return action.startswith(BLOCK_PREFIX)


def block_seconds(action: str) -> int | None:
    """The duration of a ``block-ip:<duration>`` action (``1h``, ``30m``, seconds); ``0`` is forever."""
    text = action[len(BLOCK_PREFIX) :].strip()
    if text in ("0", "forever"):
        return None
    secs = int(text) if text.isdigit() else int(parse_duration(text).total_seconds())
    return secs


def _check_block(action: str, field: str) -> str:
    try:
        secs = block_seconds(action)
    except Invalid:
        raise Invalid(
            f"{field}: {action!r} is not block-ip:<duration> (for example block-ip:1h, block-ip:3600 "
            "or block-ip:forever)",
            field=field,
        )
    if secs is not None and not MIN_BLOCK <= secs <= MAX_BLOCK:
        raise Invalid(f"{field}: a block lasts {MIN_BLOCK} s to 365 days", field=field)
    return action


def check_log_actions(actions: Actions, account: str | None) -> Actions:
    """SNS topic ARNs everywhere; ``block-ip:<duration>`` among the ALARM actions too."""
    out: dict[str, tuple[str, ...]] = {}
    for key, acts in (("AlarmActions", actions.alarm), ("OKActions", actions.ok)):
        if len(acts) > MAX_ACTIONS:
            raise LimitExceeded(f"{key} accepts at most {MAX_ACTIONS} actions", field=key)
        got = []
        for a in acts:
            if isinstance(a, str) and key == "AlarmActions" and is_block_action(a):
                got.append(_check_block(a, key))
                continue
            if not isinstance(a, str) or not a.startswith("arn:aws:sns:") or a.count(":") != 5:
                extra = " or block-ip:<duration>" if key == "AlarmActions" else ""
                raise Invalid(f"{key}: {a!r} is not an SNS topic ARN{extra}", field=key)
            got.append(resolve_account(a, account, key) if account else a)
        out[key] = tuple(got)
    if actions.insufficient_data:
        raise Invalid("log alarms have no INSUFFICIENT_DATA state", field="InsufficientDataActions")
    return Actions(out["AlarmActions"], out["OKActions"], ())


def _seconds(value: Any, field: str, default: int, lo: int, hi: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Invalid(f"{field} must be seconds or a duration like 5m", field=field)
    if isinstance(value, str):
        secs = int(value) if value.isdigit() else int(parse_duration(value).total_seconds())
    else:
        secs = int(value)
    if not lo <= secs <= hi:
        raise Invalid(f"{field} must be between {lo} and {hi} seconds, got {secs}", field=field)
    return secs


def _column(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _COLUMN.fullmatch(value):
        raise Invalid(f"{field}: {value!r} is not a result column name", field=field)
    return value


def validate_log_alarm(d: LogAlarmDefinition, account: str | None = None) -> AlarmRecord:
    name = check_name(d.name)
    groups = [g for g in d.log_group_names if isinstance(g, str) and g]
    if len(groups) != len(d.log_group_names) or not groups:
        raise Invalid("LogGroupNames must name at least one log group", field="LogGroupNames")
    if len(groups) > MAX_GROUPS:
        raise Invalid(f"LogGroupNames names at most {MAX_GROUPS} log groups", field="LogGroupNames")
    if (d.query is None) == (d.filter_pattern is None):
        raise Invalid("give exactly one of QueryString and FilterPattern", field="QueryString")
    group_by = [_column(c, "GroupBy") for c in d.group_by]
    if d.query is not None:
        if not isinstance(d.query, str) or not d.query.strip() or len(d.query) > 10_000:
            raise Invalid("QueryString must be 1 to 10000 characters", field="QueryString")
        try:
            compiled = compile_query(d.query)
        except QueryError as e:
            raise Invalid(f"QueryString: {e.message}", field="QueryString")
        columns = list(compiled.output_columns)
        column = _column(d.column or (columns[-1] if columns else ""), "ValueColumn")
        # Columns named by the query (a `fields *` query may yield more): check what is knowable.
        if columns and "*" not in columns:
            for c in [column, *group_by]:
                if c not in columns:
                    raise Invalid(
                        f"the query's results have no column {c!r} (they have {', '.join(columns)})",
                        field="ValueColumn" if c == column else "GroupBy",
                    )
    else:
        from rexwatch.lang.filterpattern import compile_pattern

        try:
            compile_pattern(d.filter_pattern)
        except QueryError as e:
            raise Invalid(f"FilterPattern: {e.message}", field="FilterPattern")
        if group_by:
            raise Invalid("a FilterPattern alarm counts matches and has no GroupBy", field="GroupBy")
        column = "count"
        if d.column not in (None, "count"):
            raise Invalid("a FilterPattern alarm's value column is count", field="ValueColumn")
    if d.threshold is None or isinstance(d.threshold, bool) or not math.isfinite(float(d.threshold)):
        raise Invalid("Threshold is required (a finite number)", field="Threshold")
    op = d.comparison_operator or "GreaterThanThreshold"
    if op not in THRESHOLD_OPERATORS:
        raise Invalid(f"ComparisonOperator must be one of {', '.join(sorted(THRESHOLD_OPERATORS))}",
                      field="ComparisonOperator")
    every = _seconds(d.every, "EvaluationInterval", 300, MIN_EVERY, MAX_EVERY)
    window = _seconds(d.window, "QueryWindow", every, MIN_EVERY, MAX_WINDOW)
    top = d.top_rows if d.top_rows is not None else 10
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= MAX_TOP_ROWS:
        raise Invalid(f"TopRows must be between 1 and {MAX_TOP_ROWS}", field="TopRows")
    actions = check_log_actions(d.actions, account)
    ip_column = d.ip_column
    if ip_column is not None:
        _column(ip_column, "IpColumn")
        if ip_column not in group_by:
            raise Invalid("IpColumn must be one of the GroupBy columns", field="IpColumn")
    elif any(is_block_action(a) for a in actions.alarm):
        if not group_by:
            raise Invalid("a block-ip action needs GroupBy (the IP column)", field="AlarmActions")
        ip_column = group_by[0]
    if d.description is not None and len(d.description) > 1024:
        raise Invalid("AlarmDescription is at most 1024 characters", field="AlarmDescription")
    cfg: dict[str, Any] = {
        "log_group_names": groups,
        "query": d.query,
        "filter_pattern": d.filter_pattern,
        "every": every,
        "window": window,
        "column": column,
        "threshold": float(d.threshold),
        "comparison_operator": op,
        "group_by": group_by,
        "top_rows": top,
        "ip_column": ip_column,
    }
    return AlarmRecord(
        name=name,
        kind="log",
        description=d.description,
        namespace=None,
        metric_name=None,
        dimensions=[],
        config=cfg,
        actions_enabled=bool(d.actions_enabled),
        actions=actions,
        tags=check_tags(d.tags),
    )


def next_log_evaluation(config: dict[str, Any], now: float) -> float:
    step = int(config.get("every") or 300)
    return (math.floor(now / step) + 1) * step


def ip_of(value: Any) -> str | None:
    """The normalised text of an IP address, or None when ``value`` is not one."""
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return None


def key_of(row: dict[str, Any], group_by: Sequence[str]) -> str:
    return "|".join(str(row.get(c, "")) for c in group_by)

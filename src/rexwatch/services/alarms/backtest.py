"""Backtests: replay a metric alarm's current definition over stored data (one statistics query)."""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING

from rexwatch.errors import Invalid, LimitExceeded
from rexwatch.services.alarms import evaluate as ev
from rexwatch.services.alarms.definitions import cadence, eval_config, stat_query
from rexwatch.services.alarms.model import Alarm, BacktestTransition

if TYPE_CHECKING:
    from rexwatch.services.alarms.service import Context

MAX_STEPS = 200_000


def backtest(ctx: Context, a: Alarm, since: float, until: float) -> list[BacktestTransition]:
    """The transitions ``a`` would have made from ``since`` to ``until``, starting with no data."""
    if since >= until:
        raise Invalid("the backtest start must be before its end", field="since")
    if a.kind != "metric":
        raise Invalid(
            "backtests replay metric alarms; composite alarms follow their children", field="AlarmName"
        )
    cfg = eval_config(a)
    step = cadence(a)
    if int((until - since) // step) > MAX_STEPS:
        raise LimitExceeded(
            f"a backtest covers at most {MAX_STEPS:,} evaluations; shorten the range", field="since"
        )
    lo_t, hi_t = ev.range_start(cfg, since), ev.window_end(cfg, until)
    if a.config.get("math"):
        fetch_math = getattr(ctx.stats, "fetch_math", None)
        if fetch_math is None:
            raise Invalid("this statistics source cannot evaluate metric math alarms")
        points = fetch_math([(a.id, a.config["metrics"])], lo_t, hi_t).get(a.id, [])
    else:
        q = stat_query(a)
        points = ctx.stats.fetch([q], lo_t, hi_t).get(q, [])
    points.sort(key=lambda p: p.ts)
    state = ev.StateValue.INSUFFICIENT_DATA
    out: list[BacktestTransition] = []
    span = (cfg.evaluation_periods + ev.EXTRA_PERIODS) * cfg.period
    keys = [p.ts for p in points]
    lo = 0
    t = math.ceil(since / step) * step
    while t <= until:
        end = ev.window_end(cfg, t)
        lo = bisect.bisect_left(keys, end - span, lo)
        hi = bisect.bisect_left(keys, end, lo)
        tr = ev.evaluate(cfg, ev.AlarmState(state), points[lo:hi], t)
        if tr is not None:
            out.append(BacktestTransition(t, tr.old.value, tr.new.value, tr.reason))
            state = tr.new
        t += step
    return out

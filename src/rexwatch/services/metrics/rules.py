"""Statistic names, period rules and the choice of storage tier."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from rexwatch.errors import FieldPath, Invalid, MissingParameter
from rexwatch.services.metrics.model import BASIC_STATISTICS

_PCT = re.compile(r"^p(\d{1,2}(?:\.\d{1,2})?|100(?:\.0{1,2})?)$")


def percentile_level(stat: str) -> float | None:
    """0.99 for ``p99``; None for a basic statistic; Invalid for anything else."""
    if stat in BASIC_STATISTICS:
        return None
    m = _PCT.match(stat)
    if not m:
        raise Invalid(
            f"The value {stat} for statistic is invalid: use SampleCount, Average, Sum, Minimum, "
            f"Maximum or a percentile such as p99 or p99.9.",
            field="Statistic",
        )
    return float(m.group(1)) / 100.0


def canonical_percentile(stat: str) -> str:
    percentile_level(stat)
    return stat


def check_period(period: int | None, field: FieldPath = ("Period",)) -> int:
    if period is None:
        raise MissingParameter("The parameter {field} is required.", field=field)
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise Invalid(f"The value {period} for parameter {{field}} is invalid.", field=field)
    if period not in (1, 5, 10, 30) and period % 60:
        raise Invalid(
            f"The value {period} for parameter {{field}} is invalid: the period must be 1, 5, 10, 30 "
            f"or a multiple of 60 seconds.",
            field=field,
        )
    return period


@dataclass(frozen=True)
class Tier:
    table: str
    time_col: str
    seconds: int  # bucket width; 0 for raw points
    retention: dt.timedelta


RAW = Tier("metric_points", "ts", 0, dt.timedelta(days=15))
M1 = Tier("metric_1m", "bucket", 60, dt.timedelta(days=15))
M5 = Tier("metric_5m", "bucket", 300, dt.timedelta(days=63))
H1 = Tier("metric_1h", "bucket", 3600, dt.timedelta(days=455))
ROLLUP_TIERS = (H1, M5, M1)  # coarsest first
RAW_WINDOW = dt.timedelta(hours=3)


def choose_tier(start: dt.datetime, period: int, now: dt.datetime) -> Tier:
    """The tier a query reads.

    Ranges starting within the last three hours, and every period under a
    minute, read raw points (exact percentiles). Otherwise the coarsest rollup
    whose bucket divides the period and whose retention still covers the
    start; if none covers it (say a 60 s period 20 days back), the 1-minute
    rollup, which like CloudWatch then has no data for the expired part.
    """
    if period < 60 or now - start <= RAW_WINDOW:
        return RAW
    for tier in ROLLUP_TIERS:
        if period % tier.seconds == 0 and now - start <= tier.retention:
            return tier
    return M1


def align_down(t: dt.datetime, period: int) -> dt.datetime:
    epoch = int(t.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % period, dt.UTC)

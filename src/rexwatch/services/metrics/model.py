"""Typed inputs and outputs of the metrics service, and CloudWatch's constants."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

UNITS = frozenset(
    [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ]
)
BASIC_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")

MAX_ITEMS_PER_PUT = 1000
MAX_DIMENSIONS = 30
MAX_VALUES = 150
MAX_DATAPOINTS = 1440
MAX_EXTENDED_STATISTICS = 10
PAST_LIMIT = dt.timedelta(days=14)
FUTURE_LIMIT = dt.timedelta(hours=2)
# CloudWatch rejects magnitudes above 2^360 and non-zero magnitudes below 2^-260.
MAX_MAGNITUDE = 2.0**360
MIN_MAGNITUDE = 2.0**-260
# Relative error bound of percentiles read from rollups (bfloat16 truncation: 8 significant bits).
ROLLUP_PERCENTILE_ERROR = 2.0**-7

Dimensions = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class StatisticSet:
    sample_count: float
    sum: float
    minimum: float
    maximum: float


@dataclass
class MetricDatum:
    """One MetricData item of PutMetricData."""

    metric_name: str | None
    dimensions: list[tuple[str, str]] = field(default_factory=list)
    timestamp: dt.datetime | None = None
    value: float | None = None
    values: list[float] | None = None
    counts: list[float] | None = None
    statistic_values: StatisticSet | None = None
    unit: str | None = None
    storage_resolution: int | None = None


@dataclass
class MetricColumns:
    """Many single-namespace datums in columns, for ``MetricsService.put_metric_columns``.

    Datum ``i`` is named ``metric_names[i]``, has the dimensions
    ``dimensions[i]``, the time ``timestamps_ms[i]`` (epoch milliseconds) and the
    unit ``units[i]`` (None: ``None``). Its values are ``values[i]`` when
    ``offsets`` is None (one Value per datum), else
    ``values[offsets[i]:offsets[i + 1]]`` with the ``counts`` of the same slice
    (``counts`` None: each 1), like Values and Counts. Datums of one series
    should share one dimension list object: each distinct object is validated
    and encoded once, which is what makes a batch cheap.
    """

    metric_names: list[str]
    dimensions: list[Sequence[tuple[str, str]]]
    timestamps_ms: list[int]
    units: list[str | None]
    values: list[float]
    counts: list[float] | None = None
    offsets: list[int] | None = None
    storage_resolutions: list[int] | None = None
    # With offsets: which datums were given as a single Value (their errors name Value, not Values.1).
    single_values: list[bool] | None = None

    def __len__(self) -> int:
        return len(self.metric_names)


@dataclass(frozen=True)
class MetricId:
    namespace: str
    metric_name: str
    dimensions: Dimensions = ()


@dataclass(frozen=True)
class StatQuery:
    """One statistic of one series, for ``get_statistics_batch``.

    ``statistic`` is SampleCount, Average, Sum, Minimum, Maximum or a
    percentile ``pNN``/``pNN.NN``; ``dimensions`` match exactly; ``unit``
    None means any unit.
    """

    id: str
    namespace: str
    metric_name: str
    dimensions: Dimensions = ()
    statistic: str = "Average"
    period: int = 60
    unit: str | None = None


@dataclass
class Datapoint:
    """One period of one series, as GetMetricStatistics returns it."""

    timestamp: dt.datetime
    sample_count: float
    sum: float
    minimum: float
    maximum: float
    unit: str
    percentiles: dict[str, float] = field(default_factory=dict)

    @property
    def average(self) -> float:
        return self.sum / self.sample_count if self.sample_count else float("nan")

    def statistic(self, name: str) -> float | None:
        if name == "SampleCount":
            return self.sample_count
        if name == "Average":
            return self.average
        if name == "Sum":
            return self.sum
        if name == "Minimum":
            return self.minimum
        if name == "Maximum":
            return self.maximum
        return self.percentiles.get(name)


@dataclass
class MetricInfo:
    namespace: str
    metric_name: str
    dimensions: Dimensions
    last_seen: dt.datetime | None = None


# The older name of MetricDatum, kept for callers written before the rename.
Datum = MetricDatum


@dataclass(frozen=True)
class SeriesKey:
    """One series read at one period (statistics for it are computed together)."""

    namespace: str
    metric_name: str
    dims: str  # canonical JSON of the dimensions
    unit: str  # "" = any unit
    period: int


@dataclass(frozen=True)
class MetricStatSpec:
    """A statistic of one metric at one period: the MetricStat of a GetMetricData query."""

    metric: MetricId
    period: int | None
    stat: str
    unit: str | None = None


@dataclass(frozen=True)
class MetricDataQuery:
    """One GetMetricData query: a MetricStat or a metric-math expression."""

    id: str
    metric_stat: MetricStatSpec | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = True
    period: int | None = None


@dataclass
class MetricDataResult:
    """One query's datapoints in a GetMetricData page (``status`` Complete or PartialData)."""

    id: str
    label: str
    timestamps: list[dt.datetime]
    values: list[float]
    status: str = "Complete"
    messages: list[dict] = field(default_factory=list)


@dataclass
class MetricDataPage:
    results: list[MetricDataResult]
    next_token: str | None = None
    messages: list[dict] = field(default_factory=list)

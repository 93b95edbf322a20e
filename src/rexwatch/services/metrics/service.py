"""MetricsService: PutMetricData, statistics, the batched statistics API and ListMetrics."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from rexwatch.errors import Invalid, InvalidCombination, InvalidToken, MissingParameter
from rexwatch.services.metrics.ingest import IngestBuffer
from rexwatch.services.metrics.model import (
    MAX_DATAPOINTS,
    MAX_EXTENDED_STATISTICS,
    MAX_ITEMS_PER_PUT,
    UNITS,
    Datapoint,
    MetricColumns,
    MetricDatum,
    MetricId,
    MetricInfo,
    SeriesKey,
    StatQuery,
)
from rexwatch.services.metrics.put import (
    build_columns,
    build_points,
    canonical_dims,
    check_dimensions,
    check_namespace,
)
from rexwatch.services.metrics.rules import check_period, choose_tier, percentile_level
from rexwatch.stores.telemetry.metrics import MetricsStore
from rexwatch.timeparse import as_utc

log = logging.getLogger("rexwatch.metrics")

LIST_PAGE = 500
LIST_WINDOW = dt.timedelta(days=14)
RECENT = dt.timedelta(hours=3)


@dataclass
class SeriesStats:
    """Per-period statistics of one series as numpy vectors (one entry per period)."""

    t: np.ndarray  # epoch seconds, int64
    unit: list[str]
    samples: np.ndarray
    sum: np.ndarray
    min: np.ndarray
    max: np.ndarray
    weight: np.ndarray
    pct: dict[float, np.ndarray]

    def values(self, statistic: str) -> np.ndarray:
        """The statistic per period; NaN where it has no value (percentiles of statistic sets)."""
        if statistic == "SampleCount":
            return self.samples
        if statistic == "Sum":
            return self.sum
        if statistic == "Minimum":
            return self.min
        if statistic == "Maximum":
            return self.max
        if statistic == "Average":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(self.samples > 0, self.sum / self.samples, np.nan)
        level = percentile_level(statistic)
        assert level is not None
        return np.where(self.weight > 0, self.pct[level], np.nan)


def _floor(epoch: int, period: int) -> int:
    return epoch - epoch % period


def _empty_stats(levels: Sequence[float]) -> SeriesStats:
    z = np.zeros(0)
    return SeriesStats(
        np.zeros(0, dtype=np.int64), [], z, z, z, z, np.zeros(0, dtype=np.uint64), {lv: z for lv in levels}
    )


class MetricsService:
    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.store = MetricsStore(runtime.telemetry)
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        wal = Path(runtime.settings.data_dir) / "wal" / f"metrics-{runtime.telemetry.database}"
        self.ingest = IngestBuffer(wal, self.store.insert_points)
        runtime.on_close(self.ingest.close)

    # ---- writing ---------------------------------------------------------------------------
    def put_metric_data(
        self, namespace: str | None, data: Sequence[MetricDatum], *, allow_reserved: bool = False
    ) -> int:
        """Validate and log; durable once this returns, readable at once. Returns the number of rows.

        ``allow_reserved`` lets rexwatch's own collectors publish into ``AWS/...`` namespaces
        (the front doors never set it).
        """
        points = build_points(namespace, data, self.clock(), allow_reserved=allow_reserved)
        self.ingest.submit(points)
        self.runtime.metrics.count_ingest("metric_data", points.num_rows)
        return points.num_rows

    def put_metric_columns(
        self,
        namespace: str | None,
        columns: MetricColumns,
        *,
        max_items: int | None = MAX_ITEMS_PER_PUT,
        allow_reserved: bool = False,
    ) -> int:
        """``put_metric_data`` for a columnar batch (the intake doors): same rules, checked per column.

        ``max_items`` None lifts the 1,000-datum bound of one PutMetricData call, for
        callers whose request size is bounded already.
        """
        points = build_columns(namespace, columns, self.clock(), max_items=max_items, allow_reserved=allow_reserved)
        self.ingest.submit(points)
        self.runtime.metrics.count_ingest("metric_data", points.num_rows)
        return points.num_rows

    def flush(self) -> None:
        """Make every acknowledged datapoint visible to queries (reads call this)."""
        if self.ingest.has_pending:
            self.ingest.flush()

    # ---- reading statistics ----------------------------------------------------------------
    def series_statistics(
        self,
        series: Sequence[SeriesKey],
        start: dt.datetime,
        end: dt.datetime,
        levels: Sequence[float],
        *,
        by_unit: bool = False,
    ) -> list[SeriesStats]:
        """Statistics for many series: one ClickHouse query per storage tier involved (usually one)."""
        self.flush()
        start, end = as_utc(start), as_utc(end)
        # Epoch seconds as integers from here on: any range a datetime holds is safe to round.
        start_s, end_s = math.floor(start.timestamp()), math.ceil(end.timestamp())
        now = self.clock()
        levels = sorted(set(levels))
        by_tier: dict = defaultdict(list)
        for i, s in enumerate(series):
            by_tier[choose_tier(start, s.period, now)].append(i)
        out: list[SeriesStats] = [_empty_stats(levels)] * len(series)
        for tier, idxs in by_tier.items():
            sub = [series[i] for i in idxs]
            # Rounding the start down to the period keeps every tier's buckets whole.
            qstart = min(_floor(start_s, s.period) for s in sub)
            table = self.store.statistics(tier, sub, qstart, end_s, levels, by_unit=by_unit)
            if table.num_rows == 0:
                continue
            qi = table.column("qi").to_numpy()
            t = table.column("t").to_numpy().astype(np.int64)
            units = table.column("unit").to_pylist()
            samples = table.column("samples").to_numpy()
            sums = table.column("sum").to_numpy()
            mins = table.column("min").to_numpy()
            maxs = table.column("max").to_numpy()
            weight = table.column("weight").to_numpy()
            if levels:
                pct_flat = table.column("pct").combine_chunks().flatten().to_numpy()
                pct = pct_flat.reshape(table.num_rows, len(levels))
            else:
                pct = np.zeros((table.num_rows, 0))
            # Rows are ordered by qi: cut them into one slice per series.
            bounds = np.searchsorted(qi, np.arange(len(sub) + 1))
            for local, i in enumerate(idxs):
                a, b = bounds[local], bounds[local + 1]
                if a == b:
                    continue
                s = sub[local]
                keep = t[a:b] >= _floor(start_s, s.period)
                sl = np.arange(a, b)[keep]
                out[i] = SeriesStats(
                    t[sl],
                    [units[k] for k in sl],
                    samples[sl],
                    sums[sl],
                    mins[sl],
                    maxs[sl],
                    weight[sl],
                    {lv: pct[sl, j] for j, lv in enumerate(levels)},
                )
        return out

    def get_statistics_batch(
        self, queries: Sequence[StatQuery], start: dt.datetime, end: dt.datetime
    ) -> dict[str, list[tuple[dt.datetime, float]]]:
        """Many (series, statistic, period) queries over one time range, in one ClickHouse query.

        Returns, per query id, the (period start, value) pairs that have data, oldest first.
        Percentiles of periods holding only statistic sets are left out, as CloudWatch does. A query
        with an unusable period or statistic gets an empty list (and a warning in the log) rather
        than failing the whole batch.
        """
        keys: dict[SeriesKey, int] = {}
        plan: list[tuple[str, int, str]] = []
        levels: set[float] = set()
        out: dict[str, list[tuple[dt.datetime, float]]] = {}
        for q in queries:
            try:
                check_period(q.period)
                level = percentile_level(q.statistic)
            except Invalid as e:
                # One unusable query must not sink a batch evaluated for many alarms.
                log.warning("statistics query %s skipped: %s", q.id, e.message)
                out[q.id] = []
                continue
            if level is not None:
                levels.add(level)
            key = SeriesKey(q.namespace, q.metric_name, canonical_dims(q.dimensions), q.unit or "", q.period)
            plan.append((q.id, keys.setdefault(key, len(keys)), q.statistic))
        stats = self.series_statistics(list(keys), start, end, sorted(levels)) if keys else []
        for qid, idx, stat in plan:
            st = stats[idx]
            vals = st.values(stat)
            ok = ~np.isnan(vals)
            out[qid] = [
                (dt.datetime.fromtimestamp(int(ts), dt.UTC), float(v))
                for ts, v in zip(st.t[ok], vals[ok], strict=True)
            ]
        return out

    def get_metric_statistics(
        self,
        metric: MetricId,
        start: dt.datetime | None,
        end: dt.datetime | None,
        period: int | None,
        statistics: Sequence[str] = (),
        extended_statistics: Sequence[str] = (),
        unit: str | None = None,
    ) -> tuple[str, list[Datapoint]]:
        check_namespace(metric.namespace, for_put=False)
        if not metric.metric_name:
            raise MissingParameter(
                "The parameter MetricName is required.", field="MetricName"
            )
        check_dimensions(metric.dimensions)
        if start is None:
            raise MissingParameter(
                "The parameter StartTime is required.", field="StartTime"
            )
        if end is None:
            raise MissingParameter("The parameter EndTime is required.", field="EndTime")
        start, end = as_utc(start), as_utc(end)
        period = check_period(period)
        if start >= end:
            raise Invalid(
                "The parameter StartTime must be less than the parameter EndTime.",
                field="StartTime",
            )
        if not statistics and not extended_statistics:
            raise InvalidCombination(
                "Must specify either Statistics or ExtendedStatistics.",
                field="Statistics",
            )
        for s in statistics:
            if s not in ("SampleCount", "Average", "Sum", "Minimum", "Maximum"):
                raise Invalid(
                    f"The value {s} for parameter Statistics is invalid.",
                    field="Statistics",
                )
        if len(extended_statistics) > MAX_EXTENDED_STATISTICS:
            raise Invalid(
                f"At most {MAX_EXTENDED_STATISTICS} ExtendedStatistics may be requested.",
                field="ExtendedStatistics",
            )
        levels = []
        for s in extended_statistics:
            try:
                level = percentile_level(s)
            except Invalid:
                level = None
            if level is None:
                raise Invalid(
                    f"The value {s} for parameter ExtendedStatistics is invalid: percentiles "
                    f"are written pNN or pNN.NN.",
                    field="ExtendedStatistics",
                )
            levels.append(level)
        if unit is not None and unit not in UNITS:
            raise Invalid(
                f"The value {unit} for parameter Unit is invalid.",
                field="Unit",
            )
        n = -(-int((end - start).total_seconds()) // period)
        if n > MAX_DATAPOINTS:
            raise InvalidCombination(
                f"You have requested up to {n} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. "
                f"You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
                field="Period",
            )
        key = SeriesKey(
            metric.namespace, metric.metric_name, canonical_dims(metric.dimensions), unit or "", period
        )
        st = self.series_statistics([key], start, end, levels, by_unit=True)[0]
        points: list[Datapoint] = []
        for k in range(len(st.t)):
            pcts = {}
            if st.weight[k] > 0:
                pcts = {
                    name: float(st.pct[lv][k]) for name, lv in zip(extended_statistics, levels, strict=True)
                }
            points.append(
                Datapoint(
                    dt.datetime.fromtimestamp(int(st.t[k]), dt.UTC),
                    float(st.samples[k]),
                    float(st.sum[k]),
                    float(st.min[k]),
                    float(st.max[k]),
                    st.unit[k],
                    pcts,
                )
            )
        return metric.metric_name, points

    def get_metric_data(self, queries, start, end, **kw):
        """GetMetricData: MetricStat queries in one batch plus metric math (see ``getdata``)."""
        from rexwatch.services.metrics.getdata import get_metric_data

        return get_metric_data(self, queries, start, end, **kw)

    # ---- catalog ---------------------------------------------------------------------------
    def list_metrics(
        self,
        namespace: str | None = None,
        metric_name: str | None = None,
        dimensions: Sequence[tuple[str, str | None]] = (),
        recently_active: str | None = None,
        next_token: str | None = None,
        limit: int = LIST_PAGE,
    ) -> tuple[list[MetricInfo], str | None]:
        if recently_active not in (None, "PT3H"):
            raise Invalid(
                f"The value {recently_active} for parameter RecentlyActive is invalid.",
                field="RecentlyActive",
            )
        if len(dimensions) > 10:
            raise Invalid(
                "At most 10 dimension filters are allowed.",
                field="Dimensions",
            )
        for j, (name, value) in enumerate(dimensions, 1):
            if not name:
                raise MissingParameter("The parameter {field} is required.", field=("Dimensions", j, "Name"))
            if value is not None and len(value) > 1024:
                raise Invalid("The value for parameter {field} is too long.", field=("Dimensions", j, "Value"))
        after = _decode_token(next_token)
        self.flush()
        now = self.clock()
        rows = self.store.list_series(
            namespace,
            metric_name,
            list(dimensions),
            now - RECENT if recently_active else None,
            now - LIST_WINDOW,
            limit + 1,
            after,
        )
        infos = [
            MetricInfo(ns, name, tuple(orjson.loads(dims).items()), dt.datetime.fromtimestamp(seen, dt.UTC))
            for ns, name, dims, seen in rows[:limit]
        ]
        last = rows[limit - 1] if len(rows) > limit else None
        token = _encode_token((last[0], last[1], last[2])) if last else None
        return infos, token


def _encode_token(after: tuple[str, str, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"k": list(after)})).decode()


def _decode_token(token: str | None) -> tuple[str, str, str] | None:
    if not token:
        return None
    try:
        key = orjson.loads(base64.urlsafe_b64decode(token.encode()))["k"]
        if not isinstance(key, list) or len(key) != 3 or not all(isinstance(x, str) for x in key):
            raise ValueError
        return key[0], key[1], key[2]
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise InvalidToken("The NextToken is not valid.", field="NextToken")

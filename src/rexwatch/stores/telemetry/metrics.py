"""Every ClickHouse statement about metrics: datapoints, statistics per period, the series catalog.

The database is named by the ``{db:Identifier}`` query parameter the executor supplies, and
every name or value a client sent travels as a query parameter (plain Python values: the
executor encodes them), so any byte AWS accepts in a name round-trips.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from rexwatch.services.metrics.model import SeriesKey
from rexwatch.services.metrics.rules import RAW, Tier
from rexwatch.stores.telemetry.executor import Executor


def _series_key(s: SeriesKey) -> str:
    """The text the statistics query maps back to a series. Length prefixes (in bytes, as
    ClickHouse's ``length`` counts) keep it unambiguous whatever the names contain."""
    return (f"{len(s.namespace.encode())}:{s.namespace}"
            f"{len(s.metric_name.encode())}:{s.metric_name}{s.dims}")


# The stored time columns hold 1970 to 2106 (DateTime): bounds outside are clamped, which
# selects the same rows and keeps the millisecond arithmetic inside Int64.
_MIN_S, _MAX_S = 0, 2**32


def _ts(t: dt.datetime | float) -> str:
    x = t.timestamp() if isinstance(t, dt.datetime) else float(t)
    return f"{min(max(x, _MIN_S), _MAX_S):.3f}"


class MetricsStore:
    def __init__(self, executor: Executor) -> None:
        self.x = executor

    def insert_points(self, points: pa.Table, dedup_token: str | None = None) -> int:
        """Append datapoints (``put.POINTS_SCHEMA``); the rollups and the catalog follow by views."""
        return self.x.insert_arrow("metric_points", points, dedup_token=dedup_token)

    def ping(self) -> None:
        self.x.ping()

    def statistics(
        self,
        tier: Tier,
        series: Sequence[SeriesKey],
        start: dt.datetime | float,
        end: dt.datetime | float,
        levels: Sequence[float],
        *,
        by_unit: bool,
    ) -> pa.Table:
        """Many series in one query: a row per (series index, period start[, unit]).

        Columns: qi, t (epoch seconds), unit, samples, sum, min, max, weight, pct (Array(Float64),
        one entry per level; meaningful only where weight > 0). A series asked for at two periods
        or units takes one more query (rare).
        """
        rounds: list[list[int]] = []
        taken: list[set[tuple[str, str, str]]] = []
        for i, s in enumerate(series):
            k = (s.namespace, s.metric_name, s.dims)
            for r, seen in enumerate(taken):
                if k not in seen:
                    seen.add(k)
                    rounds[r].append(i)
                    break
            else:
                taken.append({k})
                rounds.append([i])
        tables = [self._statistics_round(tier, series, idxs, start, end, levels, by_unit) for idxs in rounds]
        tables = [t for t in tables if t.num_rows]
        if not tables:
            return pa.table({})
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        return table.sort_by([("qi", "ascending"), ("t", "ascending")]) if len(tables) > 1 else table

    def _statistics_round(
        self,
        tier: Tier,
        series: Sequence[SeriesKey],
        idxs: Sequence[int],
        start: dt.datetime | float,
        end: dt.datetime | float,
        levels: Sequence[float],
        by_unit: bool,
    ) -> pa.Table:
        sub = [series[i] for i in idxs]
        level_list = ", ".join(repr(float(x)) for x in levels)
        tcol = tier.time_col
        if not levels:
            pct = "CAST([], 'Array(Float64)')"  # no percentile asked: skip the costly quantile states
        elif tier is RAW:
            pct = f"quantilesExactWeightedIf({level_list})(value, weight, weight > 0)"
        else:
            pct = f"quantilesBFloat16WeightedMerge({level_list})(pct)"
        unit_expr = "unit" if by_unit else "''"
        any_unit = all(not s.unit for s in sub)
        unit_cond = "" if any_unit else "AND (q_unit = '' OR unit = q_unit)"
        sql = f"""
        SELECT
            transform(concat(toString(length(namespace)), ':', namespace,
                             toString(length(metric_name)), ':', metric_name, dims),
                      {{keys:Array(String)}}, {{qis:Array(UInt32)}}, toUInt32(4294967295)) AS qi,
            transform(qi, {{qis:Array(UInt32)}}, {{periods:Array(UInt32)}}, toUInt32(60)) AS q_period,
            transform(qi, {{qis:Array(UInt32)}}, {{units:Array(String)}}, '') AS q_unit,
            intDiv(toUnixTimestamp({tcol}), q_period) * q_period AS t,
            {unit_expr} AS unit_key,
            sum(samples) AS samples_, sum(sum) AS sum_, min(min) AS min_, max(max) AS max_,
            sum(weight) AS weight_, {pct} AS pct_
        FROM {{db:Identifier}}.{tier.table}
        WHERE namespace IN {{nss:Array(String)}} AND metric_name IN {{names:Array(String)}}
          AND dims IN {{dimss:Array(String)}}
          AND {tcol} >= fromUnixTimestamp64Milli(toInt64({{start:Float64}} * 1000), 'UTC')
          AND {tcol} < fromUnixTimestamp64Milli(toInt64({{end:Float64}} * 1000), 'UTC')
          AND qi != 4294967295 {unit_cond}
        GROUP BY qi, q_period, q_unit, t, unit_key
        """
        sql = f"""SELECT qi, t, unit_key AS unit, samples_ AS samples, sum_ AS sum, min_ AS min, max_ AS max,
            weight_ AS weight, pct_ AS pct FROM ({sql}) ORDER BY qi, t, unit"""
        params = {
            "keys": [_series_key(s) for s in sub],
            "qis": list(range(len(sub))),
            "periods": [int(s.period) for s in sub],
            "units": [s.unit for s in sub],
            "nss": sorted({s.namespace for s in sub}),
            "names": sorted({s.metric_name for s in sub}),
            "dimss": sorted({s.dims for s in sub}),
            "start": _ts(start),
            "end": _ts(end),
        }
        table = self.x.query_arrow(sql, params)
        if table.num_rows == 0 or len(idxs) == len(series):
            return table
        # Map the round's local indices back to the caller's.
        mapping = np.asarray(idxs, dtype=np.uint32)
        qi = mapping[table.column("qi").to_numpy()]
        return table.set_column(0, "qi", pa.array(qi))

    def list_series(
        self,
        namespace: str | None,
        metric_name: str | None,
        dim_filters: Sequence[tuple[str, str | None]],
        active_since: dt.datetime | None,
        seen_since: dt.datetime,
        limit: int,
        after: tuple[str, str, str] | None,
    ) -> list[tuple[str, str, str, int]]:
        where = ["last_seen >= toDateTime(toInt64({seen:Float64}), 'UTC')"]
        params: dict[str, object] = {"seen": _ts(seen_since)}
        if namespace is not None:
            where.append("namespace = {ns:String}")
            params["ns"] = namespace
        if metric_name is not None:
            where.append("metric_name = {name:String}")
            params["name"] = metric_name
        for i, (k, v) in enumerate(dim_filters):
            params[f"dk{i}"] = k
            # dims is the canonical JSON object of string values (put.canonical_dims).
            if v is None:
                where.append(f"JSONHas(dims, {{dk{i}:String}})")
            else:
                params[f"dv{i}"] = v
                where.append(
                    f"JSONExtractString(dims, {{dk{i}:String}}) = {{dv{i}:String}} AND JSONHas(dims, {{dk{i}:String}})"
                )
        if after is not None:
            # Keyset paging: the next page starts after the last series of the previous one.
            where.append("(namespace, metric_name, dims) > ({an:String}, {am:String}, {ad:String})")
            params.update(an=after[0], am=after[1], ad=after[2])
        having = ""
        if active_since is not None:
            having = "HAVING max(last_seen) >= toDateTime(toInt64({active:Float64}), 'UTC')"
            params["active"] = _ts(active_since)
        sql = f"""
        SELECT namespace, metric_name, dims, toUnixTimestamp(max(last_seen)) AS seen
        FROM {{db:Identifier}}.metric_series
        WHERE {" AND ".join(where)}
        GROUP BY namespace, metric_name, dims
        {having}
        ORDER BY namespace, metric_name, dims
        LIMIT {int(limit)}
        """
        return self.x.query_rows(sql, params)

"""The metrics store: the only module of the metrics service that holds SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
import pyarrow as pa

from rexwatch.services.metrics.rules import RAW, Tier
from rexwatch.stores.telemetry.executor import Executor


@dataclass(frozen=True)
class SeriesKey:
    """One series read at one period (statistics for it are computed together)."""

    namespace: str
    metric_name: str
    dims: str  # canonical JSON
    unit: str  # "" = any unit
    period: int


def _param(text: str) -> str:
    """Query parameters are parsed in escaped form: protect backslashes and control characters."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def _ts(t: dt.datetime) -> str:
    return f"{t.timestamp():.3f}"


class MetricsStore:
    def __init__(self, executor: Executor) -> None:
        self.x = executor

    def insert(self, points: pa.Table) -> int:
        return self.x.insert_arrow("metric_points", points)

    def statistics(
        self,
        tier: Tier,
        series: Sequence[SeriesKey],
        start: dt.datetime,
        end: dt.datetime,
        levels: Sequence[float],
        *,
        by_unit: bool,
    ) -> pa.Table:
        """One query for many series: a row per (series index, period start[, unit]).

        Columns: qi, t (epoch seconds), unit, samples, sum, min, max, weight, pct (Array(Float64),
        one entry per level; meaningful only where weight > 0).
        """
        qrows = [
            {
                "qi": i,
                "ns": s.namespace,
                "name": s.metric_name,
                "dims": s.dims,
                "unit": s.unit,
                "period": s.period,
            }
            for i, s in enumerate(series)
        ]
        level_list = ", ".join(repr(float(x)) for x in (levels or [0.5]))
        tcol = tier.time_col
        if tier is RAW:
            pct = f"quantilesExactWeightedIf({level_list})(p.value, p.weight, p.weight > 0)"
            tsec = "toUnixTimestamp(p.ts)"
        else:
            pct = f"quantilesBFloat16WeightedMerge({level_list})(p.pct)"
            tsec = "toUnixTimestamp(p.bucket)"
        unit_expr = "p.unit" if by_unit else "''"
        sql = f"""
        WITH q AS (
            SELECT * FROM format(JSONEachRow,
                'qi UInt32, ns String, name String, dims String, unit String, period UInt32', {{q:String}})
        )
        SELECT q.qi AS qi, intDiv({tsec}, q.period) * q.period AS t, {unit_expr} AS unit,
            sum(p.samples) AS samples, sum(p.sum) AS sum, min(p.min) AS min, max(p.max) AS max,
            sum(p.weight) AS weight, {pct} AS pct
        FROM {{db}}.{tier.table} AS p
        INNER JOIN q ON p.namespace = q.ns AND p.metric_name = q.name AND p.dims = q.dims
        WHERE p.{tcol} >= fromUnixTimestamp64Milli(toInt64({{start:Float64}} * 1000), 'UTC')
          AND p.{tcol} < fromUnixTimestamp64Milli(toInt64({{end:Float64}} * 1000), 'UTC')
          AND (p.namespace, p.metric_name, p.dims) IN (SELECT ns, name, dims FROM q)
          AND (q.unit = '' OR p.unit = q.unit)
        GROUP BY qi, t, unit
        ORDER BY qi, t, unit
        """
        params = {
            "q": _param(orjson.dumps(qrows).decode()),
            "start": _ts(start),
            "end": _ts(end),
        }
        return self.x.query_arrow(sql, params)

    def list_series(
        self,
        namespace: str | None,
        metric_name: str | None,
        dim_filters: Sequence[tuple[str, str | None]],
        active_since: dt.datetime | None,
        seen_since: dt.datetime,
        limit: int,
        offset: int,
    ) -> list[tuple[str, str, str, int]]:
        where = ["last_seen >= toDateTime(toInt64({seen:Float64}), 'UTC')"]
        params: dict[str, str] = {"seen": _ts(seen_since)}
        if namespace is not None:
            where.append("namespace = {ns:String}")
            params["ns"] = _param(namespace)
        if metric_name is not None:
            where.append("metric_name = {name:String}")
            params["name"] = _param(metric_name)
        for i, (k, v) in enumerate(dim_filters):
            params[f"dk{i}"] = _param(k)
            if v is None:
                where.append(f"mapContains(dim_map, {{dk{i}:String}})")
            else:
                params[f"dv{i}"] = _param(v)
                where.append(
                    f"dim_map[{{dk{i}:String}}] = {{dv{i}:String}} AND mapContains(dim_map, {{dk{i}:String}})"
                )
        having = ""
        if active_since is not None:
            having = "HAVING max(last_seen) >= toDateTime(toInt64({active:Float64}), 'UTC')"
            params["active"] = _ts(active_since)
        sql = f"""
        SELECT namespace, metric_name, dims, toUnixTimestamp(max(last_seen)) AS seen
        FROM {{db}}.metric_series
        WHERE {" AND ".join(where)}
        GROUP BY namespace, metric_name, dims
        {having}
        ORDER BY namespace, metric_name, dims
        LIMIT {int(limit)} OFFSET {int(offset)}
        """
        return self.x.query_rows(sql, params)

"""Probe results in ClickHouse: batched inserts, uptime, daily bars, incidents, history.

Uptime and incidents are computed by ClickHouse from the stored rows (window
functions over each check's ordered results), never by looping in Python.
See ``ddl/probes.py`` for the meaning of ``status``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from rexwatch.stores.telemetry.executor import Executor

# Windows reported by uptime(), in seconds.
UPTIME_WINDOWS: dict[str, int] = {"24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400, "90d": 90 * 86_400}

_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("check_id", pa.string()),
        ("target", pa.string()),
        ("ts", pa.timestamp("ms", tz="UTC")),
        ("status", pa.uint8()),
        ("ok", pa.uint8()),
        ("latency_ms", pa.float32()),
        ("status_code", pa.uint16()),
        ("reason", pa.string()),
        ("error", pa.string()),
        ("excerpt", pa.string()),
        ("lateness_ms", pa.float32()),
    ]
)


def _ms(ts: float) -> int:
    return round(ts * 1000)


class ProbeResults:
    def __init__(self, executor: Executor) -> None:
        self.tx = executor

    def forget(self, kind: str, check_id: int | str) -> None:
        """Delete every result of one monitor or target group (it was deleted).

        Ids are never reused, so leftover rows could not be mistaken for a new
        monitor's; deleting them keeps the table to what exists. A lightweight
        DELETE: rows vanish from reads at once, parts are rewritten later.
        """
        self.tx.execute(
            "DELETE FROM {db:Identifier}.probe_results WHERE kind = {kind:String} AND check_id = {id:String}",
            {"kind": kind, "id": str(check_id)},
        )

    def insert(self, rows: Sequence[dict[str, Any]]) -> int:
        """Append a batch of results (dicts with the table's columns; ``ts`` as epoch seconds)."""
        if not rows:
            return 0
        cols: dict[str, list[Any]] = {f.name: [] for f in _SCHEMA}
        for r in rows:
            cols["kind"].append(r["kind"])
            cols["check_id"].append(str(r["check_id"]))
            cols["target"].append(r.get("target", ""))
            cols["ts"].append(_ms(r["ts"]))
            cols["status"].append(r["status"])
            cols["ok"].append(1 if r["ok"] else 0)
            cols["latency_ms"].append(float(r.get("latency_ms") or 0.0))
            cols["status_code"].append(int(r.get("status_code") or 0))
            cols["reason"].append(r.get("reason") or "")
            cols["error"].append((r.get("error") or "")[:2000])
            cols["excerpt"].append((r.get("excerpt") or "")[:1000])
            cols["lateness_ms"].append(float(r.get("lateness_ms") or 0.0))
        table = pa.table({f.name: pa.array(cols[f.name], f.type) for f in _SCHEMA})
        return self.tx.insert_arrow("probe_results", table)

    def uptime(self, kind: str, ids: Sequence[str], now: float) -> dict[str, dict[str, float | None]]:
        """Uptime percentage per check over each window in UPTIME_WINDOWS (None: no data)."""
        if not ids:
            return {}
        exprs = []
        for name, seconds in UPTIME_WINDOWS.items():
            cut = f"ts >= now_ts - INTERVAL {seconds} SECOND"
            exprs.append(
                f"round(100 * countIf(status IN (1, 2) AND {cut}) / nullIf(countIf(status != 3 AND {cut}), 0), 4)"
                f" AS `u{name}`"
            )
        sql = (
            "WITH fromUnixTimestamp64Milli({now:Int64}, 'UTC') AS now_ts "
            f"SELECT check_id, {', '.join(exprs)} FROM {{db:Identifier}}.probe_results "
            "WHERE kind = {kind:String} AND check_id IN {ids:Array(String)} "
            "AND ts >= now_ts - INTERVAL 90 DAY AND ts <= now_ts GROUP BY check_id"
        )
        rows = self.tx.query_rows(sql, {"now": _ms(now), "kind": kind, "ids": [str(i) for i in ids]})
        out: dict[str, dict[str, float | None]] = {str(i): dict.fromkeys(UPTIME_WINDOWS) for i in ids}
        for row in rows:
            out[row[0]] = dict(zip(UPTIME_WINDOWS, row[1:], strict=True))
        return out

    def daily(self, kind: str, ids: Sequence[str], now: float, days: int = 90) -> dict[str, list[dict]]:
        """Per check, one entry per UTC day of the last ``days`` days: uptime % and failed checks."""
        if not ids:
            return {}
        sql = (
            "WITH fromUnixTimestamp64Milli({now:Int64}, 'UTC') AS now_ts "
            "SELECT check_id, toDate(ts) AS day, "
            "round(100 * countIf(status IN (1, 2)) / nullIf(countIf(status != 3), 0), 3) AS uptime, "
            "countIf(status = 0) AS down_checks, count() AS checks "
            "FROM {db:Identifier}.probe_results WHERE kind = {kind:String} AND check_id IN {ids:Array(String)} "
            "AND toDate(ts) > toDate(now_ts) - {days:UInt16} AND ts <= now_ts "
            "GROUP BY check_id, day ORDER BY check_id, day"
        )
        rows = self.tx.query_rows(sql, {"now": _ms(now), "kind": kind, "ids": [str(i) for i in ids], "days": days})
        by: dict[str, dict[str, dict]] = {str(i): {} for i in ids}
        for check_id, day, uptime, down, checks in rows:
            by[check_id][day.isoformat()] = {"uptime": uptime, "down_checks": down, "checks": checks}
        today = datetime.fromtimestamp(now, UTC).date()
        out: dict[str, list[dict]] = {}
        from datetime import timedelta

        for cid, found in by.items():
            series = []
            for back in range(days - 1, -1, -1):
                d = (today - timedelta(days=back)).isoformat()
                series.append({"date": d, **found.get(d, {"uptime": None, "down_checks": 0, "checks": 0})})
            out[cid] = series
        return out

    def sparklines(self, kind: str, ids: Sequence[str], since: float, now: float,
                   buckets: int) -> dict[str, list[float | None]]:
        """Per check, the mean latency of its successful checks in each of ``buckets`` equal slices
        of [since, now] (None: no successful check in the slice), in one query."""
        if not ids or buckets < 1 or now <= since:
            return {}
        start, end = _ms(since), _ms(now)
        width = max(1, -(-(end - start) // buckets))
        sql = (
            "SELECT check_id, intDiv(toUnixTimestamp64Milli(ts) - {start:Int64}, {width:Int64}) AS b, "
            "avgIf(latency_ms, ok = 1) AS lat "
            "FROM {db:Identifier}.probe_results WHERE kind = {kind:String} AND check_id IN {ids:Array(String)} "
            "AND ts >= fromUnixTimestamp64Milli({start:Int64}, 'UTC') "
            "AND ts <= fromUnixTimestamp64Milli({end:Int64}, 'UTC') "
            "GROUP BY check_id, b"
        )
        rows = self.tx.query_rows(sql, {"start": start, "end": end, "width": width, "kind": kind,
                                        "ids": [str(i) for i in ids]})
        out: dict[str, list[float | None]] = {str(i): [None] * buckets for i in ids}
        for check_id, b, lat in rows:
            if 0 <= int(b) < buckets and lat == lat:  # nan: no successful check in the slice
                out[check_id][int(b)] = round(float(lat), 2)
        return out

    def incidents(
        self, kind: str, ids: Sequence[str], since: float, now: float, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Incidents (maximal runs of down results), newest first, with start, end, duration and cause.

        ``end`` is the time of the first result after the run (None while ongoing).
        """
        if not ids:
            return []
        sql = """
        WITH marked AS (
            SELECT check_id, target, ts, status, error, reason, status_code,
                if(toInt16(status) = lagInFrame(toInt16(status), 1, toInt16(-1)) OVER w, 0, 1) AS change
            FROM {db:Identifier}.probe_results
            WHERE kind = {kind:String} AND check_id IN {ids:Array(String)}
              AND ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
              AND ts <= fromUnixTimestamp64Milli({now:Int64}, 'UTC') AND status != 3
            WINDOW w AS (PARTITION BY check_id, target ORDER BY ts
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        ),
        grouped AS (
            SELECT *, sum(change) OVER (PARTITION BY check_id, target ORDER BY ts
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS grp
            FROM marked
        ),
        runs AS (
            SELECT check_id, target, grp, any(status) AS status, min(ts) AS start_ts, count() AS checks,
                argMin(multiIf(error != '', error, reason != '', reason,
                               status_code != 0, concat('HTTP ', toString(status_code)), 'check failed'), ts)
                    AS cause,
                argMin(reason, ts) AS first_reason
            FROM grouped GROUP BY check_id, target, grp
        ),
        spans AS (
            SELECT *, leadInFrame(start_ts, 1, toDateTime64(0, 3, 'UTC')) OVER (
                PARTITION BY check_id, target ORDER BY grp ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS next_ts
            FROM runs
        )
        SELECT check_id, target, start_ts,
            if(toUnixTimestamp64Milli(next_ts) = 0, NULL, next_ts) AS end_ts,
            (toUnixTimestamp64Milli(if(toUnixTimestamp64Milli(next_ts) = 0,
                fromUnixTimestamp64Milli({now:Int64}, 'UTC'), next_ts)) - toUnixTimestamp64Milli(start_ts)) / 1000
                AS duration_s,
            cause, checks, first_reason
        FROM spans WHERE status = 0 ORDER BY start_ts DESC LIMIT {limit:UInt32}
        """
        rows = self.tx.query_rows(
            sql,
            {"kind": kind, "ids": [str(i) for i in ids], "since": _ms(since), "now": _ms(now), "limit": limit},
        )
        return [
            {
                "check_id": r[0],
                "target": r[1],
                "start": r[2],
                "end": r[3],
                "duration_s": float(r[4]),
                "ongoing": r[3] is None,
                "cause": r[5],
                "checks": r[6],
                "reason": r[7],
            }
            for r in rows
        ]

    def history(
        self, kind: str, check_id: str, since: float, until: float, limit: int = 100
    ) -> list[dict[str, Any]]:
        sql = (
            "SELECT ts, target, status, ok, latency_ms, status_code, reason, error, excerpt "
            "FROM {db:Identifier}.probe_results WHERE kind = {kind:String} AND check_id = {id:String} "
            "AND ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC') "
            "AND ts <= fromUnixTimestamp64Milli({until:Int64}, 'UTC') ORDER BY ts DESC LIMIT {limit:UInt32}"
        )
        rows = self.tx.query_rows(
            sql, {"kind": kind, "id": str(check_id), "since": _ms(since), "until": _ms(until), "limit": limit}
        )
        names = ("ts", "target", "status", "ok", "latency_ms", "status_code", "reason", "error", "excerpt")
        return [dict(zip(names, r, strict=True)) for r in rows]

    def lateness(self, since: float) -> dict[str, float]:
        """Scheduling lateness of checks since ``since`` (for the benchmark and diagnostics)."""
        rows = self.tx.query_rows(
            "SELECT count(), quantile(0.5)(lateness_ms), quantile(0.99)(lateness_ms), max(lateness_ms) "
            "FROM {db:Identifier}.probe_results WHERE ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')",
            {"since": _ms(since)},
        )
        n, p50, p99, mx = rows[0]
        return {"checks": n, "p50_ms": p50 or 0.0, "p99_ms": p99 or 0.0, "max_ms": mx or 0.0}

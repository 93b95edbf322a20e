"""Every ClickHouse statement about log events. Times are epoch milliseconds.

The database is named by the ``{db:Identifier}`` query parameter the executor
supplies; every value a client sent travels as a query parameter.
"""

from __future__ import annotations

import itertools
from typing import Any

import pyarrow as pa

from rexwatch.services.logs.model import Group
from rexwatch.stores.telemetry.executor import Executor

DAY_MS = 86_400_000
_prefixes = itertools.count()


def _ms(expr: str) -> str:
    return f"fromUnixTimestamp64Milli({expr}, 'UTC')"


def retention_cutoff(group: Group, now_ms: int) -> int | None:
    return now_ms - group.retention_days * DAY_MS if group.retention_days else None


def _live_where(
    groups: list[Group],
    deleted_streams: dict[int, list[int]],
    now_ms: int,
    start_ms: int | None,
    end_ms: int | None,
    stream_names: list[str] | None,
    stream_prefix: str | None,
    end_inclusive: bool,
) -> tuple[str, dict[str, Any], str]:
    """The WHERE condition selecting exactly the live events of ``groups``, its parameters,
    and the expression giving each row's group name."""
    p = f"es{next(_prefixes)}_"
    params: dict[str, Any] = {
        f"{p}gids": [g.id for g in groups],
        f"{p}gnames": [g.name for g in groups],
    }
    per_group = []
    for i, g in enumerate(groups):
        conds = [f"group_id = {{{p}g{i}:UInt64}}"]
        params[f"{p}g{i}"] = g.id
        cutoff = retention_cutoff(g, now_ms)
        if cutoff is not None:
            conds.append(f"ts >= {_ms(f'{{{p}c{i}:Int64}}')}")
            params[f"{p}c{i}"] = cutoff
        dead = deleted_streams.get(g.id) or []
        if dead:
            conds.append(f"stream_id NOT IN {{{p}d{i}:Array(UInt64)}}")
            params[f"{p}d{i}"] = dead
        per_group.append("(" + " AND ".join(conds) + ")")
    where = [f"group_id IN {{{p}gids:Array(UInt64)}}", "(" + " OR ".join(per_group or ["0"]) + ")"]
    if start_ms is not None:
        where.append(f"ts >= {_ms(f'{{{p}start:Int64}}')}")
        params[f"{p}start"] = int(start_ms)
    if end_ms is not None:
        op = "<=" if end_inclusive else "<"
        where.append(f"ts {op} {_ms(f'{{{p}end:Int64}}')}")
        params[f"{p}end"] = int(end_ms)
    if stream_names:
        where.append(f"log_stream IN {{{p}streams:Array(String)}}")
        params[f"{p}streams"] = list(stream_names)
    if stream_prefix:
        where.append(f"startsWith(log_stream, {{{p}sprefix:String}})")
        params[f"{p}sprefix"] = stream_prefix
    log_group = (
        f"{{{p}gnames:Array(String)}}[1]" if len(groups) == 1
        else f"transform(group_id, {{{p}gids:Array(UInt64)}}, {{{p}gnames:Array(String)}}, '')"
    )
    return " AND ".join(where), params, log_group


def event_source(
    groups: list[Group],
    deleted_streams: dict[int, list[int]],
    now_ms: int,
    start_ms: int | None = None,
    end_ms: int | None = None,
    stream_names: list[str] | None = None,
    stream_prefix: str | None = None,
    *,
    end_inclusive: bool = True,
) -> tuple[str, dict[str, Any]]:
    """A subquery selecting exactly the live events of ``groups`` (see LogsService.event_source)."""
    where, params, log_group = _live_where(groups, deleted_streams, now_ms, start_ms, end_ms, stream_names,
                                           stream_prefix, end_inclusive)
    sql = (
        f"SELECT ts, ingest_ts, seq, {log_group} AS log_group, log_stream, message, fields "
        f"FROM {{db:Identifier}}.log_events WHERE {where}"
    )
    return sql, params


def scan_totals_sql(
    groups: list[Group], deleted_streams: dict[int, list[int]], now_ms: int, start_ms: int | None,
    end_ms: int | None,
) -> tuple[str, dict[str, Any]]:
    """count() and message bytes of the live events in range, aggregated on the table itself so
    ClickHouse reads only message lengths (Insights' recordsScanned and bytesScanned)."""
    where, params, _ = _live_where(groups, deleted_streams, now_ms, start_ms, end_ms, None, None, True)
    return f"SELECT count(), sum(length(message)), 0 FROM {{db:Identifier}}.log_events WHERE {where}", params


OUT_COLUMNS = (
    "toUnixTimestamp64Milli(ts) AS timestamp, toUnixTimestamp64Milli(ingest_ts) AS ingestion_time, "
    "seq, log_group, log_stream, message"
)


# Reads the server makes for itself (startup, the metric-filter worker, retention) are bounded by
# their own LIMITs and must not fail under the per-request time limit: 0 lifts it.
_INTERNAL = {"max_execution_time": 0}


class LogsStore:
    def __init__(self, executor: Executor) -> None:
        self.x = executor

    def insert(self, table: pa.Table) -> None:
        self.x.insert_arrow("log_events", table)

    def max_seq(self) -> int:
        rows = self.x.query_rows("SELECT max(seq) FROM {db:Identifier}.log_events", settings=_INTERNAL)
        return int(rows[0][0] or 0) if rows else 0

    def events_after(self, group_ids: list[int], after_seq: int, upto_seq: int, limit: int) -> pa.Table:
        """Events of the groups committed in (after_seq, upto_seq], in seq order (group_id, ts ms,
        ingest_ts ms, seq, message): the metric-filter worker's catch-up read. The ``seq_minmax``
        skip index keeps it to the parts written in that range."""
        if not group_ids:
            return pa.table({})
        return self.x.query_arrow(
            "SELECT group_id, ts, ingest_ts, seq, message FROM {db:Identifier}.log_events "
            "WHERE group_id IN {g:Array(UInt64)} AND seq > {a:UInt64} AND seq <= {b:UInt64} "
            f"ORDER BY seq LIMIT {int(limit)}",
            {"g": group_ids, "a": after_seq, "b": upto_seq},
            settings=_INTERNAL,
        )

    def max_visible_seq(self, source: tuple[str, dict[str, Any]]) -> int:
        sql, params = source
        rows = self.x.query_rows(f"SELECT max(seq) FROM ({sql})", params)
        return int(rows[0][0] or 0) if rows else 0

    def page(
        self,
        source: tuple[str, dict[str, Any]],
        pattern: tuple[str, dict[str, Any]] | None,
        *,
        limit: int,
        after: tuple[int, int] | None = None,
        before: tuple[int, int] | None = None,
        max_seq: int | None = None,
        after_seq: int | None = None,
        descending: bool = False,
        order_by_seq: bool = False,
        ts_from: int | None = None,
        ts_before: int | None = None,
    ) -> pa.Table:
        """Events of ``source`` matching ``pattern`` after/before a (ts, seq) cursor, in (ts, seq) order,
        optionally only those with ``ts_from <= ts < ts_before`` (ms)."""
        sql, params = source
        params = dict(params)
        where = []
        if pattern is not None and pattern[0]:
            where.append(f"({pattern[0]})")
            params.update(pattern[1])
        if after is not None:
            where.append(f"(ts, seq) > ({_ms('{pg_at:Int64}')}, {{pg_as:UInt64}})")
            params.update(pg_at=after[0], pg_as=after[1])
        if before is not None:
            where.append(f"(ts, seq) < ({_ms('{pg_bt:Int64}')}, {{pg_bs:UInt64}})")
            params.update(pg_bt=before[0], pg_bs=before[1])
        if max_seq is not None:
            where.append("seq <= {pg_max:UInt64}")
            params["pg_max"] = max_seq
        if after_seq is not None:
            where.append("seq > {pg_after:UInt64}")
            params["pg_after"] = after_seq
        if ts_from is not None:
            where.append(f"ts >= {_ms('{pg_from:Int64}')}")
            params["pg_from"] = ts_from
        if ts_before is not None:
            where.append(f"ts < {_ms('{pg_before:Int64}')}")
            params["pg_before"] = ts_before
        direction = "DESC" if descending else "ASC"
        order = f"seq {direction}" if order_by_seq else f"ts {direction}, seq {direction}"
        q = (
            f"SELECT {OUT_COLUMNS} FROM ({sql}) "
            + ("WHERE " + " AND ".join(where) + " " if where else "")
            + f"ORDER BY {order} LIMIT {int(limit)}"
        )
        return self.x.query_arrow(q, params)

    def scan(self, source: tuple[str, dict[str, Any]], pattern: tuple[str, dict[str, Any]] | None,
             columns: str = "*") -> pa.Table:
        sql, params = source
        params = dict(params)
        where = ""
        if pattern is not None and pattern[0]:
            where = f" WHERE ({pattern[0]})"
            params.update(pattern[1])
        return self.x.query_arrow(f"SELECT {columns} FROM ({sql}){where} ORDER BY ts, seq", params)

    def stream_stats(self, group: Group, now_ms: int) -> dict[int, tuple[int, int, int, int]]:
        """stream_id -> (first event ms, last event ms, last ingest ms, stored bytes) of live events."""
        cutoff = retention_cutoff(group, now_ms)
        rows = self.x.query_rows(
            "SELECT stream_id, toUnixTimestamp64Milli(min(ts)), toUnixTimestamp64Milli(max(ts)), "
            "toUnixTimestamp64Milli(max(ingest_ts)), sum(length(message) + 26) FROM {db:Identifier}.log_events "
            f"WHERE group_id = {{g:UInt64}} AND ts >= {_ms('{c:Int64}')} GROUP BY stream_id",
            {"g": group.id, "c": cutoff or 0},
        )
        return {int(r[0]): (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}

    def stored_bytes(self, groups: list[Group], now_ms: int) -> dict[int, int]:
        return self._per_live_group(groups, now_ms, "sum(length(message) + 26)")

    def last_event(self, groups: list[Group], now_ms: int) -> dict[int, int]:
        """group_id -> the newest live event's timestamp (ms), for groups that have one."""
        return self._per_live_group(groups, now_ms, "toUnixTimestamp64Milli(max(ts))")

    def _per_live_group(self, groups: list[Group], now_ms: int, aggregate: str) -> dict[int, int]:
        """group_id -> ``aggregate`` over each group's events inside its retention (a fixed expression)."""
        if not groups:
            return {}
        conds, params = [], {}
        for i, g in enumerate(groups):
            params[f"g{i}"], params[f"c{i}"] = g.id, retention_cutoff(g, now_ms) or 0
            conds.append(f"(group_id = {{g{i}:UInt64}} AND ts >= {_ms(f'{{c{i}:Int64}}')})")
        rows = self.x.query_rows(
            f"SELECT group_id, {aggregate} FROM {{db:Identifier}}.log_events WHERE "
            + " OR ".join(conds) + " GROUP BY group_id", params)
        return {int(r[0]): int(r[1]) for r in rows}

    def histogram(self, source: tuple[str, dict[str, Any]], pattern: tuple[str, dict[str, Any]] | None,
                  start_ms: int, bucket_ms: int) -> list[tuple[int, int]]:
        """(bucket start ms, matching events) for the non-empty buckets of ``bucket_ms`` counted from
        ``start_ms``, aggregated in ClickHouse so the answer is one row per bucket."""
        sql, params = source
        params = {**params, "h_start": int(start_ms), "h_width": int(bucket_ms)}
        where = ""
        if pattern is not None and pattern[0]:
            where = f" WHERE ({pattern[0]})"
            params.update(pattern[1])
        rows = self.x.query_rows(
            "SELECT {h_start:Int64} + intDiv(toUnixTimestamp64Milli(ts) - {h_start:Int64}, {h_width:Int64}) "
            f"* {{h_width:Int64}} AS b, count() FROM ({sql}){where} GROUP BY b ORDER BY b", params)
        return [(int(r[0]), int(r[1])) for r in rows]

    # Physical removal -----------------------------------------------------------------------------

    # Mutations rewrite the affected parts, so the bytes are gone when they return (unlike a
    # lightweight DELETE, which only masks rows until a later merge).
    _DELETE = "ALTER TABLE {db:Identifier}.log_events DELETE WHERE "
    _SYNC = {"mutations_sync": 1}

    def purge_group(self, group_id: int) -> None:
        self.x.execute(self._DELETE + "group_id = {g:UInt64}", {"g": group_id}, settings=self._SYNC)

    def purge_stream(self, group_id: int, stream_id: int) -> None:
        self.x.execute(self._DELETE + "group_id = {g:UInt64} AND stream_id = {s:UInt64}",
                       {"g": group_id, "s": stream_id}, settings=self._SYNC)

    def count_expired(self, group_id: int, cutoff_ms: int) -> int:
        rows = self.x.query_rows(
            f"SELECT count() FROM {{db:Identifier}}.log_events WHERE group_id = {{g:UInt64}} AND ts < {_ms('{c:Int64}')}",
            {"g": group_id, "c": cutoff_ms}, settings=_INTERNAL)
        return int(rows[0][0])

    def purge_expired(self, group_id: int, cutoff_ms: int) -> None:
        self.x.execute(self._DELETE + f"group_id = {{g:UInt64}} AND ts < {_ms('{c:Int64}')}",
                       {"g": group_id, "c": cutoff_ms}, settings=self._SYNC)

    def export_day(self, source: tuple[str, dict[str, Any]], pattern: tuple[str, dict[str, Any]] | None,
                   day_start_ms: int, day_end_ms: int) -> pa.Table:
        sql, params = source
        params = {**params, "ex_a": day_start_ms, "ex_b": day_end_ms}
        where = [f"ts >= {_ms('{ex_a:Int64}')}", f"ts < {_ms('{ex_b:Int64}')}"]
        if pattern is not None and pattern[0]:
            where.append(f"({pattern[0]})")
            params.update(pattern[1])
        return self.x.query_arrow(
            "SELECT ts AS timestamp, ingest_ts AS ingestion_time, seq AS event_id, log_group, "
            "toString(log_stream) AS log_stream, message, toString(toDate(ts)) AS date "
            f"FROM ({sql}) WHERE {' AND '.join(where)} ORDER BY ts, seq", params)

    def containing(self, source: tuple[str, dict[str, Any]], text: str, limit: int) -> list[tuple]:
        """(ts ms, ingest ms, seq, log_group, log_stream, message) of live events whose message holds
        ``text``, oldest first, at most ``limit``."""
        sql, params = source
        return self.x.query_rows(
            "SELECT toUnixTimestamp64Milli(ts), toUnixTimestamp64Milli(ingest_ts), seq, log_group, log_stream, "
            f"message FROM ({sql}) WHERE position(message, {{needle:String}}) > 0 ORDER BY ts, seq "
            "LIMIT {lim:UInt32}",
            {**params, "needle": text, "lim": limit},
        )

    def count(self, source: tuple[str, dict[str, Any]], pattern: tuple[str, dict[str, Any]] | None) -> int:
        sql, params = source
        params = dict(params)
        where = ""
        if pattern is not None and pattern[0]:
            where = f" WHERE ({pattern[0]})"
            params.update(pattern[1])
        return int(self.x.query_rows(f"SELECT count() FROM ({sql}){where}", params)[0][0])

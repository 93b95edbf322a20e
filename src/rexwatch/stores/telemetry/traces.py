"""Every ClickHouse statement about spans (``ddl/traces.py``): insert, one trace, search, summaries."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from rexwatch.stores.telemetry.executor import Executor

SPANS_SCHEMA = pa.schema(
    [
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("parent_span_id", pa.string()),
        ("service", pa.string()),
        ("name", pa.string()),
        ("kind", pa.string()),
        ("route", pa.string()),
        ("start", pa.timestamp("ns", tz="UTC")),
        ("duration_ns", pa.uint64()),
        ("status", pa.string()),
        ("status_message", pa.string()),
        ("scope", pa.string()),
        ("attributes", pa.string()),
        ("resource", pa.string()),
        ("events", pa.string()),
        ("links", pa.string()),
    ]
)

_COLUMNS = (
    "toString(trace_id), toString(span_id), parent_span_id, service, name, kind, route, toUnixTimestamp64Nano(start), duration_ns, "
    "status, status_message, scope, attributes, resource, events, links"
)


class TracesStore:
    def __init__(self, executor: Executor) -> None:
        self.x = executor

    def insert(self, spans: pa.Table, dedup_token: str | None = None) -> int:
        return self.x.insert_arrow("spans", spans, dedup_token=dedup_token)

    def set_retention(self, days: int) -> None:
        """Spans older than ``days`` are dropped by ClickHouse's TTL (whole days at once)."""
        rows = self.x.query_rows(
            "SELECT create_table_query FROM system.tables WHERE database = {db:String} AND name = 'spans'"
        )
        want = f"toIntervalDay({int(days)})"
        if rows and want in rows[0][0]:
            return
        self.x.execute(
            f"ALTER TABLE {{db:Identifier}}.spans MODIFY TTL toDateTime(start) + INTERVAL {int(days)} DAY"
        )

    def trace(self, trace_id: str, since_ns: int, limit: int) -> list[tuple]:
        return self.x.query_rows(
            f"SELECT {_COLUMNS} FROM {{db:Identifier}}.spans WHERE trace_id = {{tid:String}} "
            "AND start >= fromUnixTimestamp64Nano({since:Int64}, 'UTC') ORDER BY start, span_id LIMIT {lim:UInt32}",
            {"tid": trace_id, "since": since_ns, "lim": limit},
        )

    def search(
        self,
        start_ns: int,
        end_ns: int,
        *,
        service: str | None,
        name: str | None,
        route: str | None,
        min_duration_ns: int | None,
        status: str | None,
        slowest: bool,
        one_per_trace: bool,
        limit: int,
    ) -> list[tuple]:
        where = ["start >= fromUnixTimestamp64Nano({s:Int64}, 'UTC')", "start < fromUnixTimestamp64Nano({e:Int64}, 'UTC')"]
        params: dict[str, Any] = {"s": start_ns, "e": end_ns, "lim": limit}
        for column, value in (("service", service), ("name", name), ("route", route), ("status", status)):
            if value is not None:
                where.append(f"{column} = {{{column}:String}}")
                params[column] = value
        if min_duration_ns is not None:
            where.append("duration_ns >= {mind:UInt64}")
            params["mind"] = min_duration_ns
        order = "duration_ns DESC, start DESC" if slowest else "start DESC, duration_ns DESC"
        per_trace = "LIMIT 1 BY trace_id " if one_per_trace else ""
        return self.x.query_rows(
            f"SELECT {_COLUMNS} FROM {{db:Identifier}}.spans WHERE {' AND '.join(where)} "
            f"ORDER BY {order} {per_trace}LIMIT {{lim:UInt32}}",
            params,
        )

    def services(self, start_ns: int, end_ns: int, limit: int) -> list[tuple]:
        """(service, requests, errors, p50, p90, p99, max duration in ms) of request spans in a range."""
        return self.x.query_rows(
            "SELECT service, count(), countIf(status = 'ERROR'), "
            "quantilesTDigest(0.5, 0.9, 0.99)(duration_ns / 1e6) AS q, max(duration_ns) / 1e6 "
            "FROM {db:Identifier}.spans "
            "WHERE start >= fromUnixTimestamp64Nano({s:Int64}, 'UTC') AND start < fromUnixTimestamp64Nano({e:Int64}, 'UTC') "
            "AND (kind IN ('SERVER', 'CONSUMER') OR parent_span_id = '') "
            "GROUP BY service ORDER BY service LIMIT {lim:UInt32}",
            {"s": start_ns, "e": end_ns, "lim": limit},
        )

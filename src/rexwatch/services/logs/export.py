"""Export: a group's events a day at a time as Arrow tables with a fixed schema."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from rexwatch.stores.telemetry.logs import DAY_MS, LogsStore

EXPORT_SCHEMA = pa.schema([
    ("timestamp", pa.timestamp("ms", tz="UTC")),
    ("ingestion_time", pa.timestamp("ms", tz="UTC")),
    ("event_id", pa.uint64()),
    ("log_group", pa.string()),
    ("log_stream", pa.string()),
    ("message", pa.string()),
    ("date", pa.string()),
])


def day_batches(store: LogsStore, source: tuple[str, dict], psql: tuple[str, dict], start_ms: int,
                end_ms: int) -> Iterator[pa.Table]:
    day = start_ms - start_ms % DAY_MS
    while day < end_ms:
        table = store.export_day(source, psql, max(day, start_ms), min(day + DAY_MS, end_ms))
        if table.num_rows:
            yield table.cast(EXPORT_SCHEMA)
        day += DAY_MS

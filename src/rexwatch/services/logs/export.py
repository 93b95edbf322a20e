"""Export: a group's events a day (or a shorter chunk) at a time as Arrow tables with a fixed
schema, and those tables as one Parquet file streamed in pieces (the console's download)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

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
                end_ms: int, chunk_ms: int = DAY_MS) -> Iterator[pa.Table]:
    """One table per ``chunk_ms`` slice (a divisor of a day, so slices never cross midnight)."""
    if chunk_ms <= 0 or DAY_MS % chunk_ms:
        raise ValueError("chunk_ms must divide a day")
    at = start_ms - start_ms % chunk_ms
    while at < end_ms:
        table = store.export_day(source, psql, max(at, start_ms), min(at + chunk_ms, end_ms))
        if table.num_rows:
            yield table.cast(EXPORT_SCHEMA)
        at += chunk_ms


class ChunkSink:
    """A write-only file that hands out what was written since the last ``take``: what the Arrow and
    Parquet writers write into while a response streams the chunks out."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, b: Any) -> int:
        self.parts.append(bytes(b))
        return len(b)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts = []
        return out


PARQUET_ROW_GROUP = 65_536


def parquet_stream(tables: Iterator[pa.Table]) -> Iterator[bytes]:
    """The tables as one zstd Parquet file, yielded a row group at a time: memory holds one input
    table and one row group, whatever the file's size."""
    sink = ChunkSink()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), EXPORT_SCHEMA, compression="zstd")
    try:
        for table in tables:
            for batch in table.to_batches(max_chunksize=PARQUET_ROW_GROUP):
                writer.write_batch(batch, row_group_size=PARQUET_ROW_GROUP)
                chunk = sink.take()
                if chunk:
                    yield chunk
    finally:
        writer.close()
    yield sink.take()

"""Log events.

One wide table for every log group. Choices (measured, see docs/logs.md):

- ``ORDER BY (group_id, ts, seq)``: every read names one or a few groups and a
  time range, and FilterLogEvents/tail return events in (ts, seq) order, so
  reads are range scans that ClickHouse can stop early (read-in-order).
- ``PARTITION BY toDate(ts)``: an insert spans at most 24 h (two partitions);
  old days of all groups go together.
- ``message`` raw with ZSTD(3): storing raw text keeps ingest fast; filters on
  JSON fields either read ``fields`` or parse the message in ClickHouse.
- ``fields``: the JSON fields a group's index policy names (dotted paths),
  extracted at ingest in the filter compiler's text form; empty for groups
  without a policy. Extracting every top-level field in ClickHouse at insert
  cut the insert rate 5x and doubled bytes on disk for no gain on the
  measured queries (bench/RESULTS.md), so the default extracts nothing.
- ``seq`` is unique and increasing in commit order (one writer assigns it):
  it breaks ties in ordering and is the cursor of paging and ``tail``.
"""

from rexwatch.stores.telemetry.schema import Migration

MIGRATIONS = [
    Migration(
        "logs-0001-log-events",
        (
            """CREATE TABLE IF NOT EXISTS {db}.log_events (
                group_id UInt64,
                stream_id UInt64,
                log_stream LowCardinality(String),
                ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
                ingest_ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
                seq UInt64 CODEC(DoubleDelta, ZSTD(1)),
                message String CODEC(ZSTD(3)),
                fields Map(LowCardinality(String), String) CODEC(ZSTD(3))
            ) ENGINE = MergeTree
            PARTITION BY toDate(ts)
            ORDER BY (group_id, ts, seq)
            SETTINGS index_granularity = 8192""",
        ),
    ),
]

"""Log events.

One wide table for every log group. Choices (measured, see docs/logs.md):

- ``ORDER BY (group_id, ts, seq)``: every read names one or a few groups and a
  time range, and FilterLogEvents/tail return events in (ts, seq) order, so
  reads are range scans that ClickHouse can stop early (read-in-order).
- ``PARTITION BY toDate(ts)``: an insert spans at most 24 h (two partitions);
  old days of all groups go together.
- ``message`` raw: storing raw text keeps ingest fast; filters on JSON fields
  either read ``fields`` or parse the message in ClickHouse. Written with the
  default codec and recompressed with ZSTD(9) after an hour (migration 0002).
- ``fields``: the JSON fields a group's index policy names (dotted paths),
  extracted at ingest in the filter compiler's text form; empty for groups
  without a policy. Filters read it for rows ingested under the policy. Extracting every top-level field in ClickHouse at insert
  cut the insert rate about 4x and doubled bytes on disk for no gain on the
  measured queries (docs/logs.md), so the default extracts nothing.
- ``seq`` is unique and increasing in commit order (one writer assigns it):
  it breaks ties in ordering and is the cursor of paging and ``tail``.
"""

from rexwatch.stores.telemetry.schema import Migration

MIGRATIONS = [
    Migration(
        "logs-0001-log-events",
        (
            """CREATE TABLE IF NOT EXISTS {db:Identifier}.log_events (
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
    # Compression off the ack path: new parts use the default codec (LZ4, the cheapest to write);
    # a background merge rewrites parts whose events were all ingested more than an hour ago with
    # ZSTD(9). A recompression TTL only touches columns without an explicit codec, hence REMOVE CODEC.
    # Measured (bench/RESULTS.md): ZSTD(3) at insert gave 7.9x; this gives ~10x after an hour.
    Migration(
        "logs-0002-recompress",
        (
            "ALTER TABLE {db:Identifier}.log_events MODIFY COLUMN message REMOVE CODEC",
            "ALTER TABLE {db:Identifier}.log_events MODIFY COLUMN fields REMOVE CODEC",
            "ALTER TABLE {db:Identifier}.log_events MODIFY TTL ingest_ts + INTERVAL 1 HOUR RECOMPRESS CODEC(ZSTD(9))",
            "ALTER TABLE {db:Identifier}.log_events MODIFY SETTING merge_with_recompression_ttl_timeout = 3600",
        ),
    ),
    # The metric-filter worker reads what it has not processed yet by seq (WHERE seq > cursor), which
    # is not in the sort key: a minmax index per granule lets ClickHouse skip the parts written before.
    Migration(
        "logs-0003-seq-minmax",
        ("ALTER TABLE {db:Identifier}.log_events ADD INDEX IF NOT EXISTS seq_minmax seq TYPE minmax GRANULARITY 1",),
    ),
]

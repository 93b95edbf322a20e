"""Spans: one row per OpenTelemetry span, for every service.

- ``ORDER BY (service, start)``: searches name a service and a time range
  ("slowest requests of utm-api in the last hour"), which become range scans.
- Fetching one trace reads by ``trace_id``, which is not in the sort key: a
  bloom filter per granule lets ClickHouse skip the granules without it.
- ``PARTITION BY toDate(start)``: retention drops whole days; the TTL is set
  from the ``trace_retention_days`` setting at start (``TracesStore.set_retention``).
- Attributes, resource attributes, events and links are JSON text, as log
  messages are: what a span carries varies by instrumentation.
- The dedup window lets a replayed write-ahead-log segment be dropped when
  its first insert got through (see services/metrics/ingest.py).
"""

from rexwatch.stores.telemetry.schema import Migration

MIGRATIONS = [
    Migration(
        "traces-0001-spans",
        (
            """CREATE TABLE IF NOT EXISTS {db:Identifier}.spans (
                trace_id FixedString(32),
                span_id FixedString(16),
                parent_span_id String,
                service LowCardinality(String),
                name String CODEC(ZSTD(1)),
                kind LowCardinality(String),
                route String CODEC(ZSTD(1)),
                start DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
                duration_ns UInt64 CODEC(T64, ZSTD(1)),
                status LowCardinality(String),
                status_message String CODEC(ZSTD(3)),
                scope LowCardinality(String),
                attributes String CODEC(ZSTD(3)),
                resource String CODEC(ZSTD(3)),
                events String CODEC(ZSTD(3)),
                links String CODEC(ZSTD(3)),
                INDEX trace_bf trace_id TYPE bloom_filter(0.01) GRANULARITY 1
            ) ENGINE = MergeTree
            PARTITION BY toDate(start)
            ORDER BY (service, start)
            TTL toDateTime(start) + INTERVAL 30 DAY
            SETTINGS non_replicated_deduplication_window = 1000""",
        ),
    ),
]

"""Tables shared by every area."""

from rexwatch.stores.telemetry.schema import Migration

MIGRATIONS = [
    Migration(
        "core-0001-server-events",
        (
            # The server's own notable events (start, stop, worker failures), kept short.
            """CREATE TABLE IF NOT EXISTS {db:Identifier}.server_events (
                ts DateTime64(3, 'UTC') DEFAULT now64(3),
                kind LowCardinality(String),
                detail String CODEC(ZSTD(3))
            ) ENGINE = MergeTree ORDER BY ts TTL toDateTime(ts) + INTERVAL 30 DAY""",
        ),
    ),
]

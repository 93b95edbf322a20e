"""Probe results: every uptime-monitor and target-group health check, one row each.

``status`` is the state of the monitor (or target) after the check, so uptime
and incidents are computed from stored rows alone:

- monitors: 0 down, 1 up, 2 pending (failing, retries not yet used up), 3 maintenance
- targets:  0 unhealthy, 1 healthy, 2 initial

``ok`` is the raw outcome of the single check. Uptime counts up and pending as
available and ignores maintenance; an incident is a maximal run of ``status = 0``.
"""

from rexwatch.stores.telemetry.schema import Migration

MIGRATIONS = [
    Migration(
        "probes-0001-results",
        (
            """CREATE TABLE IF NOT EXISTS {db:Identifier}.probe_results (
                kind LowCardinality(String),
                check_id String,
                target String DEFAULT '',
                ts DateTime64(3, 'UTC'),
                status UInt8,
                ok UInt8,
                latency_ms Float32,
                status_code UInt16 DEFAULT 0,
                reason LowCardinality(String) DEFAULT '',
                error String DEFAULT '' CODEC(ZSTD(3)),
                excerpt String DEFAULT '' CODEC(ZSTD(3)),
                lateness_ms Float32 DEFAULT 0
            ) ENGINE = MergeTree
            PARTITION BY toYYYYMM(ts)
            ORDER BY (kind, check_id, target, ts)
            TTL toDateTime(ts) + INTERVAL 400 DAY""",
        ),
    ),
]

"""Metric datapoints, their rollups and the series catalog.

``metric_points`` holds every datum as written (one row per value of a
``Values``/``Counts`` pair; statistic sets carry ``weight`` 0 because they have
no distribution). Three rollup tables (1 minute, 5 minutes, 1 hour) are kept by
materialized views that fire on every insert into ``metric_points``; they hold
exact count/sum/min/max and a ``quantilesBFloat16Weighted`` state for
percentiles (values truncated to 8 significant bits: relative error below
2^-7 = 0.78 %, ranks exact). TTLs follow CloudWatch's retention tiers:
sub-minute data 3 hours, 1-minute data 15 days, 5-minute 63 days, 1-hour 455
days. ``metric_series`` is the catalog ListMetrics reads.
"""

from rexwatch.stores.telemetry.schema import Migration

_ROLLUP_TABLE = """CREATE TABLE IF NOT EXISTS {{db:Identifier}}.{name} (
    namespace LowCardinality(String),
    metric_name LowCardinality(String),
    dims String,
    unit LowCardinality(String),
    bucket DateTime('UTC'),
    samples SimpleAggregateFunction(sum, Float64),
    sum SimpleAggregateFunction(sum, Float64),
    min SimpleAggregateFunction(min, Float64),
    max SimpleAggregateFunction(max, Float64),
    weight SimpleAggregateFunction(sum, UInt64),
    pct AggregateFunction(quantilesBFloat16Weighted(0.5), Float64, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY {partition}
ORDER BY (namespace, metric_name, dims, unit, bucket)
TTL bucket + INTERVAL {ttl}"""

_ROLLUP_VIEW = """CREATE MATERIALIZED VIEW IF NOT EXISTS {{db:Identifier}}.{name}_mv TO {{db:Identifier}}.{name} AS
SELECT namespace, metric_name, dims, unit,
    toDateTime(toStartOfInterval(metric_points.ts, INTERVAL {seconds} SECOND), 'UTC') AS bucket,
    sum(samples) AS samples, sum(metric_points.sum) AS sum,
    min(metric_points.min) AS min, max(metric_points.max) AS max,
    sum(metric_points.weight) AS weight,
    quantilesBFloat16WeightedStateIf(0.5)(value, metric_points.weight, metric_points.weight > 0) AS pct
FROM {{db:Identifier}}.metric_points
GROUP BY namespace, metric_name, dims, unit, bucket"""

# (table, bucket seconds, partition expression, retention)
ROLLUPS = (
    ("metric_1m", 60, "toDate(bucket)", "15 DAY"),
    ("metric_5m", 300, "toMonday(bucket)", "63 DAY"),
    ("metric_1h", 3600, "toYYYYMM(bucket)", "455 DAY"),
)


def _rollups() -> tuple[str, ...]:
    out: list[str] = []
    for name, seconds, partition, ttl in ROLLUPS:
        out.append(_ROLLUP_TABLE.format(name=name, partition=partition, ttl=ttl))
        out.append(_ROLLUP_VIEW.format(name=name, seconds=seconds))
    return tuple(out)


MIGRATIONS = [
    Migration(
        "metrics-0001-points-rollups-series",
        (
            # Raw datapoints. dims is the canonical JSON object of the dimensions (keys sorted).
            # High-resolution rows (resolution < 60) live 3 hours, standard rows 15 days.
            """CREATE TABLE IF NOT EXISTS {db:Identifier}.metric_points (
                namespace LowCardinality(String),
                metric_name LowCardinality(String),
                dims String,
                unit LowCardinality(String),
                ts DateTime64(3, 'UTC'),
                resolution UInt8,
                samples Float64,
                sum Float64,
                min Float64,
                max Float64,
                value Float64,
                weight UInt64
            ) ENGINE = MergeTree
            PARTITION BY toDate(ts)
            ORDER BY (namespace, metric_name, dims, ts)
            TTL toDateTime(ts) + toIntervalHour(if(resolution < 60, 3, 360))""",
            *_rollups(),
            # The series catalog: one row per (namespace, metric, dimensions) after merges.
            """CREATE TABLE IF NOT EXISTS {db:Identifier}.metric_series (
                namespace LowCardinality(String),
                metric_name LowCardinality(String),
                dims String,
                dim_map SimpleAggregateFunction(any, Map(String, String)),
                first_seen SimpleAggregateFunction(min, DateTime('UTC')),
                last_seen SimpleAggregateFunction(max, DateTime('UTC'))
            ) ENGINE = AggregatingMergeTree
            ORDER BY (namespace, metric_name, dims)
            TTL last_seen + INTERVAL 15 DAY""",
            """CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.metric_series_mv TO {db:Identifier}.metric_series AS
            SELECT namespace, metric_name, dims,
                CAST(JSONExtractKeysAndValues(dims, 'String'), 'Map(String, String)') AS dim_map,
                now() AS first_seen, now() AS last_seen
            FROM (SELECT DISTINCT namespace, metric_name, dims FROM {db:Identifier}.metric_points)""",
        ),
    ),
    Migration(
        "metrics-0002-dedup-window",
        # The write-ahead log replays a segment with the token of its first insert, so a
        # crash between the insert and the segment's deletion does not count it twice.
        tuple(
            f"ALTER TABLE {{db:Identifier}}.{t} MODIFY SETTING non_replicated_deduplication_window = 1000"
            for t in ("metric_points", "metric_1m", "metric_5m", "metric_1h")
        ),
    ),
    Migration(
        "metrics-0003-series-without-map",
        # The catalog view fires on every insert with a row per distinct series in it; turning
        # each row's dims into a Map (JSON parsed per row, then a Map column written and merged)
        # was about half of an insert's CPU when every row is a distinct series, as a Prometheus
        # batch is. ListMetrics reads the dimension filters from ``dims`` itself instead;
        # ``dim_map`` stays in the table (older rows hold it) and is no longer read or filled.
        (
            "DROP VIEW IF EXISTS {db:Identifier}.metric_series_mv",
            """CREATE MATERIALIZED VIEW IF NOT EXISTS {db:Identifier}.metric_series_mv TO {db:Identifier}.metric_series AS
            SELECT namespace, metric_name, dims, now() AS first_seen, now() AS last_seen
            FROM (SELECT DISTINCT namespace, metric_name, dims FROM {db:Identifier}.metric_points)""",
        ),
    ),
]

"""Filter-pattern figures over 1,000,000 synthetic JSON API log rows in embedded ClickHouse.

- ``ERROR`` first page (LIMIT 50, time order), the FilterLogEvents hot path;
- ``{ $.duration > 1000 }`` complete count, with ``duration`` read from the
  message (JSON parse per row) and from the extracted ``fields`` map;
- alternative SQL for the same questions, to show why the generator emits what it does.

Rows are generated inside ClickHouse (numbers() + format), so the figure is the query,
not Python. Each query runs ``--repeat`` times; the median is reported.
Usage: python bench/bench_filterpattern.py [--rows 1000000] [--repeat 5] [--append bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import tempfile
import time

import chdb
import psutil

from rexwatch.lang.filterpattern import compile_pattern
from rexwatch.stores.telemetry.chdb import ChdbExecutor, engine_for

TABLE = """
CREATE TABLE {db}.logs (
    ts DateTime64(3),
    stream LowCardinality(String),
    message String CODEC(ZSTD(3)),
    fields Map(LowCardinality(String), String),
    INDEX message_tokens message TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 1
) ENGINE = MergeTree ORDER BY ts
"""

# ~3% ERROR, durations 1..3000 ms (about a third above 1000), realistic key order and ids.
FILL = """
INSERT INTO {db}.logs
SELECT
    toDateTime64('2026-11-01 00:00:00', 3) + toIntervalMillisecond(number * 50) AS ts,
    concat('api-', toString(number % 4)) AS stream,
    concat('{"ts":"', toString(ts), '","level":"', level, '","msg":"', msg,
           '","req":{"method":"', method, '","path":"', path, '","id":"', toString(generateUUIDv4()),
           '"},"status":', toString(status), ',"duration":', toString(duration),
           ',"tenant":"t-', toString(cityHash64(number) % 500), '"}') AS message,
    map('level', level, 'status', toString(status), 'duration', toString(duration), 'req.path', path) AS fields
FROM (
    SELECT number,
        multiIf(cityHash64(number, 1) % 100 < 3, 'ERROR', cityHash64(number, 1) % 100 < 10, 'WARN', 'INFO') AS level,
        ['GET', 'GET', 'POST', 'PUT', 'DELETE'][cityHash64(number, 2) % 5 + 1] AS method,
        ['/api/users', '/api/tenants', '/api/invitations', '/health', '/api/roles'][cityHash64(number, 3) % 5 + 1] AS path,
        if(level = 'ERROR', 500, [200, 200, 201, 204, 400, 404][cityHash64(number, 4) % 6 + 1]) AS status,
        1 + cityHash64(number, 5) % 3000 AS duration,
        if(level = 'ERROR', 'request failed: upstream timeout', 'request handled') AS msg
    FROM numbers({rows})
)
"""


def machine() -> str:
    return (
        f"{platform.machine()}, {psutil.cpu_count()} cores, {psutil.virtual_memory().total // 2**30} GiB, "
        f"Python {platform.python_version()}, chdb {chdb.__version__}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--append", help="append a results section to this markdown file")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as d:
        tx = ChdbExecutor(engine_for(d), "bench")
        tx.execute(TABLE)
        started = time.perf_counter()
        tx.execute(FILL.replace("{rows}", str(args.rows)))
        tx.execute("OPTIMIZE TABLE {db}.logs FINAL")
        load_s = time.perf_counter() - started

        page = "SELECT ts, message FROM {db}.logs WHERE %s ORDER BY ts LIMIT 50"
        count = "SELECT count() FROM {db}.logs WHERE %s"
        queries: list[tuple[str, str, str, dict]] = []

        def add(label: str, how: str, template: str, pattern: str = "", indexed=frozenset(), raw: str = ""):
            sql, params = (raw, {}) if raw else compile_pattern(pattern).sql(indexed_fields=indexed)
            queries.append((label, how, template % sql, params))

        add("`ERROR` first page (LIMIT 50)", "generated: hasToken", page, "ERROR")
        add("`ERROR` full count", "generated: hasToken", count, "ERROR")
        add(
            "`ERROR` full count",
            "alternative: position(message, 'ERROR') > 0",
            count,
            raw="position(message, 'ERROR') > 0",
        )
        add(
            "`ERROR` full count",
            "alternative: match(message, '\\\\bERROR\\\\b')",
            count,
            raw="match(message, '\\\\bERROR\\\\b')",
        )
        add('`"upstream timeout"` full count', "generated: hasToken x2 + match", count, '"upstream timeout"')
        add(
            "`{ $.duration > 1000 }` full count",
            "generated, from message: JSONExtract(Nullable(Float64))",
            count,
            "{ $.duration > 1000 }",
        )
        add(
            "`{ $.duration > 1000 }` full count",
            "generated, indexed: fields['duration']",
            count,
            "{ $.duration > 1000 }",
            indexed=frozenset({"duration"}),
        )
        add(
            "`{ $.duration > 1000 }` full count",
            "alternative: toFloat64OrNull(JSONExtractRaw)",
            count,
            raw="toFloat64OrNull(JSONExtractRaw(message, 'duration')) > 1000",
        )
        add(
            '`{ $.level = "ERROR" }` full count',
            "generated, from message: hasToken + JSONExtractString",
            count,
            '{ $.level = "ERROR" }',
        )
        add(
            '`{ $.level = "ERROR" }` full count',
            "alternative: JSONExtractString only",
            count,
            raw="JSONExtractString(message, 'level') = 'ERROR'",
        )
        add(
            '`{ $.level = "ERROR" }` full count',
            "generated, indexed: hasToken + fields['level']",
            count,
            '{ $.level = "ERROR" }',
            indexed=frozenset({"level"}),
        )
        add(
            "`{ $.status = 5* }` full count", "generated, from message: text form", count, "{ $.status = 5* }"
        )

        for _, _, sql, params in queries:  # warm-up: caches and compiled expressions
            tx.query_rows(sql, params)
        # Rounds interleave the queries, so load from elsewhere on the machine hits them alike.
        times: list[list[float]] = [[] for _ in queries]
        results: list[object] = [None] * len(queries)
        for _ in range(args.repeat):
            for i, (_, _, sql, params) in enumerate(queries):
                started = time.perf_counter()
                out = tx.query_rows(sql, params)
                times[i].append((time.perf_counter() - started) * 1000)
                results[i] = out[0][0] if len(out) == 1 else len(out)
        rows = []
        for (label, how, _, _), t, result in zip(queries, times, results, strict=True):
            ms = statistics.median(t)
            rows.append((label, how, ms, result))
            print(f"{label:<40} {how:<56} {ms:8.1f} ms  -> {result}")
        load = psutil.getloadavg()[0]

        if args.append:
            date = dt.date.today().isoformat()
            lines = [
                "",
                "## Filter patterns (`bench/bench_filterpattern.py`)",
                "",
                f"{date}, {machine()}; {args.rows:,} synthetic JSON API log rows generated in ClickHouse "
                f"(loaded and merged in {load_s:.1f} s), tokenbf_v1 index on `message`, median of "
                f"{args.repeat} interleaved runs; 1-minute load average {load:.1f} during the run.",
                "",
                "| query | SQL | time | result |",
                "|---|---|---|---|",
            ]
            lines += [f"| {label} | {how} | {ms:.1f} ms | {result} |" for label, how, ms, result in rows]
            with open(args.append, "a") as f:
                f.write("\n".join(lines) + "\n")
        tx.drop_database()


if __name__ == "__main__":
    main()

"""Filter-pattern figures over 1,000,000 synthetic JSON API log rows in embedded ClickHouse.

- ``ERROR`` first page (LIMIT 50, time order), the FilterLogEvents hot path;
- ``{ $.duration > 1000 }`` complete count, with ``duration`` read from the
  message (JSON parse per row) and from the extracted ``fields`` map;
- alternative SQL for the same questions, to show why the generator emits what it does;
- the pathological space-delimited shape ``[a, ..., x0!=q, ..., x1!=q, ..., z=nomatch, ...]``
  over 20,000 events of 12 words, with 2 to 8 floating runs: the generated SQL (each run
  takes its leftmost fit) against the nested search over every placement that the generator
  emitted before, which is exponential in the number of runs.

Rows are generated inside ClickHouse (numbers() + format), so the figure is the query,
not Python. Each query runs ``--repeat`` times; the median is reported.
Usage: python bench/bench_filterpattern.py [--rows 1000000] [--repeat 5] [--append bench/RESULTS.md]
       python bench/bench_filterpattern.py --only-runs   (just the floating-runs table)
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

from rexwatch.lang.filterpattern import ast, compile_pattern
from rexwatch.lang.filterpattern.sqlgen import Generator
from rexwatch.stores.telemetry.chdb import ChdbExecutor, engine_for

TABLE = """
CREATE TABLE {db:Identifier}.logs (
    ts DateTime64(3),
    stream LowCardinality(String),
    message String CODEC(ZSTD(3)),
    fields Map(LowCardinality(String), String),
    INDEX message_tokens message TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 1
) ENGINE = MergeTree ORDER BY ts
"""

# ~3% ERROR, durations 1..3000 ms (about a third above 1000), realistic key order and ids.
FILL = """
INSERT INTO {db:Identifier}.logs
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


WORDS = """
INSERT INTO {db:Identifier}.plain
SELECT number, arrayStringConcat(arrayMap(i -> ['GET', 'q', '200', 'x', 'a', '404', 'frank', '-'][
    cityHash64(number, i) % 8 + 1], range(12)), ' ')
FROM numbers({rows})
"""


def nested_runs_sql(text: str) -> tuple[str, dict]:
    """What the generator emitted before: one arrayExists per floating run, nested, so every
    placement of every run is tried (exponential in the number of runs)."""
    pattern = compile_pattern(text).ast
    assert isinstance(pattern, ast.DelimitedPattern)
    gen = Generator(prefix="old")
    arr = "extractAll(message, {}) ".format(gen.param(r'"[^"]*"|\[[^\]]*\]|[^\t\n\f\r ]+'))
    segs = pattern.segments
    head, tail, middle = len(segs[0]), len(segs[-1]), segs[1:-1]

    def level(k: int, lo: str) -> str:
        if k == len(middle):
            return "1"
        seg = middle[k]
        rest = sum(len(s) for s in middle[k + 1 :])
        var = f"p{k}"
        room = tail + rest + len(seg) - 2
        n = f"toInt64(length({arr}))"
        hi = f"{n} - {room}" if room > 0 else f"{n} + {-room}" if room else n
        conds = [gen._slot(s, f"{arr}[{var} + {i}]" if i else f"{arr}[{var}]") for i, s in enumerate(seg)]
        conds.append(level(k + 1, f"{var} + {len(seg)}"))
        body = " AND ".join(c for c in conds if c != "1") or "1"
        return f"arrayExists({var} -> {body}, range({lo}, greatest({lo}, {hi})))"

    total = sum(len(s) for s in segs)
    return f"length({arr}) >= {total} AND {level(0, f'toInt64({head + 1})')}", gen.params


def floating_runs(tx: ChdbExecutor, repeat: int, rows: int = 20_000) -> list[tuple[int, float, float | None, int]]:
    """(runs, generated ms, nested ms or None when not run, matches) for the pathological shape."""
    tx.execute("CREATE TABLE {db:Identifier}.plain (id UInt64, message String) ENGINE = MergeTree ORDER BY id")
    tx.execute(WORDS.replace("{rows}", str(rows)))
    out = []
    for runs in (2, 3, 4, 8):
        text = "[a, ..., " + ", ..., ".join(f"x{i}!=q" for i in range(runs)) + ", ..., z=nomatch, ...]"
        sql, params = compile_pattern(text).sql()
        t_new = []
        for _ in range(repeat):
            started = time.perf_counter()
            n = tx.query_rows(f"SELECT count() FROM {{db}}.plain WHERE {sql}", params)[0][0]
            t_new.append((time.perf_counter() - started) * 1000)
        t_old = None
        if runs <= 3:  # 4 runs took 48 s before, 8 runs would not finish
            old_sql, old_params = nested_runs_sql(text)
            started = time.perf_counter()
            old_n = tx.query_rows(f"SELECT count() FROM {{db}}.plain WHERE {old_sql}", old_params)[0][0]
            t_old = (time.perf_counter() - started) * 1000
            assert old_n == n, (old_n, n)
        out.append((runs, statistics.median(t_new), t_old, n))
        print(f"{runs} floating runs: generated {statistics.median(t_new):8.1f} ms"
              + (f", nested {t_old:8.1f} ms" if t_old is not None else "") + f"  -> {n}")
    return out


def runs_section(results: list[tuple[int, float, float | None, int]], repeat: int) -> list[str]:
    lines = [
        "",
        f"Floating runs, `[a, ..., x0!=q, ..., x1!=q, ..., z=nomatch, ...]` with 2 to 8 runs over 20,000 "
        f"events of 12 words (nothing matches, so every placement is searched); generated SQL median of "
        f"{repeat}, the old nested search once:",
        "",
        "| runs | generated (leftmost fit per run) | old nested search | ratio | matches |",
        "|---|---|---|---|---|",
    ]
    for runs, new, old, n in results:
        ratio = f"{old / new:.0f}x" if old is not None else "-"
        old_text = f"{old:.0f} ms" if old is not None else "not run"
        lines.append(f"| {runs} | {new:.1f} ms | {old_text} | {ratio} | {n} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--append", help="append a results section to this markdown file")
    ap.add_argument("--only-runs", action="store_true", help="measure only the floating-runs table")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as d:
        tx = ChdbExecutor(engine_for(d), "bench")
        runs = floating_runs(tx, args.repeat)
        if args.only_runs:
            if args.append:
                date = dt.date.today().isoformat()
                head = ["", "## Filter patterns: floating runs (`bench/bench_filterpattern.py --only-runs`)", "",
                        f"{date}, {machine()}; 1-minute load average {psutil.getloadavg()[0]:.1f}."]
                with open(args.append, "a") as f:
                    f.write("\n".join(head + runs_section(runs, args.repeat)) + "\n")
            tx.drop_database()
            return
        tx.execute(TABLE)
        started = time.perf_counter()
        tx.execute(FILL.replace("{rows}", str(args.rows)))
        tx.execute("OPTIMIZE TABLE {db:Identifier}.logs FINAL")
        load_s = time.perf_counter() - started

        page = "SELECT ts, message FROM {db:Identifier}.logs WHERE %s ORDER BY ts LIMIT 50"
        count = "SELECT count() FROM {db:Identifier}.logs WHERE %s"
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
            lines += runs_section(runs, args.repeat)
            with open(args.append, "a") as f:
                f.write("\n".join(lines) + "\n")
        tx.drop_database()


if __name__ == "__main__":
    main()

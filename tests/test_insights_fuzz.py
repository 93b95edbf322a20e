"""Random Insights pipelines (fixed seed): the compiler only ever raises QueryError, and every query
it accepts runs in ClickHouse (no SQL error leaks out as a failed query)."""

from __future__ import annotations

import random

import insights_data as data
from rexwatch.errors import QueryError
from rexwatch.lang.insights import compile_query

EXPRS = ["@timestamp", "@message", "path", "duration", "duration * 2", "strlen(path)", "toupper(method)", "user.id",
         "tags.0", "bin(5m)", "datefloor(@timestamp, 1h)", "toMillis(@timestamp)", "coalesce(path, level)",
         "abs(-duration)", "concat(path, '-', method)", "isValidIp(ip_address)", "substr(path, 1, 3)",
         "ispresent(path)", "@log", "status % 7", "fromMillis(1000)", "f0", "a1"]
CONDS = ["duration > 100", "path like /users/", "level = 'ERROR'", "status in [200, 500]", "not ispresent(path)",
         "success = false", "@message like 'job'", "strcontains(path, 'api')", "isIpInSubnet(ip_address, '10.0.0.0/8')",
         "@timestamp > 0", "f0 > 1", "duration != 80 or level = 'INFO'"]
AGGS = ["count()", "count(*) as c", "avg(duration)", "sum(duration), max(path)", "pct(duration, 90)",
        "stddev(duration)", "earliest(path), latest(path)", "sortsFirst(path), count_distinct(user_id)",
        "min(@timestamp)", "sum(duration) / count() as r"]
GROUPS = ["path", "bin(1m)", "level, method", "bin(1h) as h", "isValidIpV4(ip_address)"]
COMMANDS = [
    lambda r: f"fields {r.choice(EXPRS)}" + (f" as f{r.randint(0, 1)}" if r.random() < 0.5 else ""),
    lambda r: f"filter {r.choice(CONDS)}",
    lambda r: f"stats {r.choice(AGGS)}" + (f" by {r.choice(GROUPS)}" if r.random() < 0.7 else ""),
    lambda r: f"sort {r.choice(EXPRS)} {r.choice(['asc', 'desc', ''])}",
    lambda r: f"limit {r.randint(1, 20)}",
    lambda r: r.choice(['parse @message "* * job * *" as a1, b1, c1, d1', r"parse @message /job (?<jid>\d+)/"]),
    lambda r: f"dedup {r.choice(['path', 'user_id', 'level'])}",
    lambda r: "pattern @message",
]
NOISE = ["|", ",", "(", ")", "[", "]", "as", "by", "and", "not", "like", "=", "=~", "*", "/", "^", "count(", "5m",
         "@timestamp", "path", "'x'", "/re/", "42", "true", "`odd`", "desc", "strlen(", "#c\n", "!", '"* *"']


def test_random_token_soup_only_raises_query_errors() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        q = " ".join(rng.choice(NOISE) for _ in range(rng.randint(1, 10)))
        try:
            compile_query(q).to_sql("SELECT * FROM t", {}, with_matched=True)
        except QueryError as e:
            assert 0 <= e.start <= len(q)


def test_every_accepted_pipeline_runs_in_clickhouse(runtime) -> None:
    data.load(runtime.telemetry)
    rng = random.Random(11)
    ran = 0
    for _ in range(120):
        q = " | ".join(rng.choice(COMMANDS)(rng) for _ in range(rng.randint(1, 4)))
        try:
            compiled = compile_query(q)
        except QueryError:
            continue
        sql, params = compiled.to_sql(data.SOURCE, {}, indexed_fields=data.INDEXED, with_matched=True)
        rows = runtime.telemetry.query_rows(sql, params)
        assert len(rows) <= 10_000
        stats_sql, stats_params = compiled.statistics_sql(data.SOURCE, {}, indexed_fields=data.INDEXED)
        assert runtime.telemetry.query_rows(stats_sql, stats_params)[0][0] == len(data.EVENTS)
        ran += 1
    assert ran > 60

"""Logs Insights: the runbook's four queries, compiled, vs hand-written ClickHouse SQL.

    PYTHONPATH=src python bench/bench_insights.py [--events 5000000] [--repeat 5] [--record]

Events (realistic JSON API and worker logs, two log groups, spread over 24 h)
are generated inside ClickHouse straight into the logs table, so generating
millions of rows does not dominate the run; ingest has its own benchmark.
Each query runs as the compiled statement (QueriesService.sql_for: the same
SQL StartQuery runs, including its window column counting matched events) and as a hand-written statement giving the same answer,
alternately, ``--repeat`` times; the medians and their ratio are printed and,
with --record, appended to bench/RESULTS.md. The full StartQuery ->
GetQueryResults round trip (including the statistics query) is timed too.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

RUNBOOK = {
    "Find Errors": "fields @timestamp, @message\n| filter @message like /ERROR/\n| sort @timestamp desc\n| limit 100",
    "Slow API Requests": "fields @timestamp, method, path, duration\n| filter duration > 1000\n"
                         "| sort duration desc\n| limit 50",
    "Failed Login Attempts": 'fields @timestamp, user_id, ip_address\n| filter action = "login" and success = false\n'
                             "| stats count() by user_id, ip_address",
    "Request Volume by Endpoint": "fields @timestamp, path\n| stats count() by path\n| sort count desc",
}

WHERE = "group_id IN ({gids}) AND ts >= fromUnixTimestamp64Milli({start}, 'UTC') " \
        "AND ts <= fromUnixTimestamp64Milli({end}, 'UTC')"
HAND = {
    "Find Errors": "SELECT toString(ts), message FROM {{db:Identifier}}.log_events WHERE {where} "
                   "AND position(message, 'ERROR') > 0 ORDER BY ts DESC LIMIT 100",
    "Slow API Requests": "SELECT toString(ts), JSONExtractString(message, 'method'), "
                         "JSONExtractString(message, 'path'), JSONExtractRaw(message, 'duration') "
                         "FROM {{db:Identifier}}.log_events WHERE {where} AND JSONExtractFloat(message, 'duration') > 1000 "
                         "ORDER BY JSONExtractFloat(message, 'duration') DESC LIMIT 50",
    "Failed Login Attempts": "SELECT JSONExtractString(message, 'user_id') AS u, "
                             "JSONExtractString(message, 'ip_address') AS ip, count() FROM {{db:Identifier}}.log_events "
                             "WHERE {where} AND JSONExtractString(message, 'action') = 'login' "
                             "AND JSONExtractRaw(message, 'success') = 'false' GROUP BY u, ip",
    "Request Volume by Endpoint": "SELECT JSONExtractString(message, 'path') AS p, count() AS c "
                                  "FROM {{db:Identifier}}.log_events WHERE {where} GROUP BY p ORDER BY c DESC",
}

# One API request log line per event; every 10th is a login, every 20th an error.
API_MESSAGE = (
    "concat('{{\"level\":\"', if(number % 20 = 0, 'ERROR', 'INFO'), '\",\"method\":\"', "
    "['GET','POST','PUT','DELETE'][number % 4 + 1], '\",\"path\":\"/api/', "
    "['tenants','users','invitations','roles','audit-logs','health'][number % 6 + 1], '\",\"status\":', "
    "toString(if(number % 20 = 0, 500, 200)), ',\"duration\":', toString((number * 7919) % 1500 + "
    "if(number % 97 = 0, 2000, 0)), ',\"user_id\":\"u', toString(number % 5000), '\",\"tenant_id\":\"t', "
    "toString(number % 300), '\",\"request_id\":\"', toString(generateUUIDv4()), '\",\"ip_address\":\"10.', "
    "toString(number % 200), '.', toString(number % 250), '.', toString(number % 7), '\"', "
    "if(number % 10 = 0, concat(',\"action\":\"login\",\"success\":', if(number % 30 = 0, 'false', 'true')), ''), "
    "'}}')"
)
WORKER_MESSAGE = (
    "concat('{{\"level\":\"', if(number % 25 = 0, 'ERROR', 'INFO'), '\",\"job\":\"', "
    "['send_invitation','sync_tenant','audit_rollup'][number % 3 + 1], '\",\"job_id\":', toString(number), "
    "',\"duration\":', toString((number * 31) % 900), ',\"message\":\"', "
    "if(number % 25 = 0, 'ERROR job failed: timeout', 'job done'), '\"}}')"
)


def machine() -> str:
    import chdb

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, "
            f"Python {platform.python_version()}, chdb {chdb.__version__}, load average at the end {load}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()

    from rexwatch.lang.insights import compile_query
    from rexwatch.services.insights import QueriesService
    from rexwatch.services.insights.service import QueryRun
    from rexwatch.services.logs import LogsService
    from rexwatch.stores.telemetry.chdb import engine_for
    from rexwatch.testing import make_runtime

    tmp = Path(tempfile.mkdtemp(prefix="rxw-bench-insights-"))
    rt = make_runtime(tmp / "data", engine_for(str(tmp / "chdb")), workers="none")
    logs = rt.service(LogsService)
    groups = {"/aws/ecs/utm-api": ("api", API_MESSAGE, 0.8), "/aws/ecs/utm-worker": ("worker", WORKER_MESSAGE, 0.2)}
    end_ms = int(time.time() * 1000) - 60_000
    start_ms = end_ms - 86_400_000
    started = time.monotonic()
    for name, (stream, message, share) in groups.items():
        logs.create_log_group(name)
        for k in range(4):
            logs.create_log_stream(name, f"{stream}/{k}")
        g = logs.group(name)
        n = int(args.events * share)
        from sqlalchemy import select

        from rexwatch.stores.control.tables.logs import log_streams

        with rt.control.connect() as conn:
            sids = [r.id for r in conn.execute(select(log_streams.c.id).where(log_streams.c.group_id == g.id)
                                               .order_by(log_streams.c.id))]
        batch = 1_000_000
        for offset in range(0, n, batch):
            m = min(batch, n - offset)
            rt.telemetry.execute(
                "INSERT INTO {db:Identifier}.log_events (group_id, stream_id, log_stream, ts, ingest_ts, seq, message) "
                f"SELECT {g.id}, [{', '.join(map(str, sids))}][number % 4 + 1], "
                f"concat('{stream}/', toString(number % 4)), "
                f"fromUnixTimestamp64Milli(toInt64({start_ms} + number * {86_400_000 // max(n, 1)}), 'UTC'), "
                f"fromUnixTimestamp64Milli(toInt64({start_ms} + number * {86_400_000 // max(n, 1)} + 200), 'UTC'), "
                f"{g.id} * 100000000000 + number, {message.format()} "
                f"FROM numbers({offset}, {m})")
    rt.telemetry.execute("OPTIMIZE TABLE {db:Identifier}.log_events FINAL")
    gen_s = time.monotonic() - started
    total = rt.telemetry.query_rows("SELECT count() FROM {db:Identifier}.log_events")[0][0]
    print(f"generated {total:,} events in {gen_s:.0f} s", file=sys.stderr)

    svc = rt.service(QueriesService)
    names = list(groups)
    gids = ", ".join(str(logs.group(n).id) for n in names)
    where = WHERE.format(gids=gids, start=start_ms, end=end_ms + 999)
    results = []
    for title, query in RUNBOOK.items():
        run = QueryRun("bench", query, compile_query(query), names, start_ms, end_ms + 999, None, 0)
        sql, params = svc.sql_for(run, with_matched=True)  # exactly what StartQuery runs
        hand = HAND[title].format(where=where)
        a = rt.telemetry.query_rows(sql, params)
        if run.compiled.matched_strategy == "window":  # its last column counts the matched events
            a = [r[:-1] for r in a]
        b = rt.telemetry.query_rows(hand)
        same = _same(title, a, b)
        ct, ht = [], []
        for i in range(args.repeat):  # alternate which one runs first: neither always gets a warmer cache
            for which in (("c", "h") if i % 2 else ("h", "c")):
                t = time.perf_counter()
                if which == "c":
                    rt.telemetry.query_rows(sql, params)
                    ct.append(time.perf_counter() - t)
                else:
                    rt.telemetry.query_rows(hand)
                    ht.append(time.perf_counter() - t)
        # the whole StartQuery -> GetQueryResults round trip (statistics query included)
        now = int(time.time())
        t = time.perf_counter()
        qid = svc.start_query(query, group_names=names, start_s=start_ms // 1000, end_s=now)
        res = svc.wait(qid, 300)
        rt_s = time.perf_counter() - t
        c, h = statistics.median(ct), statistics.median(ht)
        results.append((title, c, h, c / h, rt_s, same, res["status"], len(a)))
        print(f"{title:28s} compiled {c * 1000:7.0f} ms  hand {h * 1000:7.0f} ms  ratio {c / h:4.2f}  "
              f"StartQuery->Complete {rt_s * 1000:6.0f} ms  same answer: {same}  rows {len(a)}", file=sys.stderr)
    rt.close()
    shutil.rmtree(tmp, ignore_errors=True)
    if args.record:
        _record(args, total, gen_s, results)


def _same(title: str, a: list[tuple], b: list[tuple]) -> bool:
    """Same answer, with missing values as '' (hand-written JSONExtractString gives '' where Insights has none)."""
    def norm(rows: list[tuple]) -> list[tuple]:
        return [tuple("" if v is None else str(v) for v in r) for r in rows]

    a, b = norm(a), norm(b)
    if title == "Slow API Requests":  # ties in duration may come in any order
        return [r[3] for r in a] == [r[3] for r in b]
    if title == "Find Errors":
        return a == b
    if title == "Request Volume by Endpoint":
        return [r[1] for r in a] == [r[1] for r in b] and sorted(a) == sorted(b)
    return sorted(a) == sorted(b)


def _record(args, total: int, gen_s: float, results: list) -> None:
    lines = [
        "", f"## Logs Insights (`bench/bench_insights.py --events {args.events}`)", "", machine(), "",
        f"{total:,} events in two log groups (80% JSON API request logs, 20% JSON worker logs) over 24 h, "
        f"generated inside ClickHouse in {gen_s:.0f} s. Medians of {args.repeat} rounds, each running both "
        "statements, in alternating order; "
        "\"round trip\" is StartQuery until GetQueryResults says Complete, including the statistics query.", "",
        "| runbook query | compiled | hand-written SQL | ratio | round trip | same answer |",
        "|---|---|---|---|---|---|",
    ]
    for title, c, h, ratio, rt_s, same, status, _rows in results:
        lines.append(f"| {title} | {c * 1000:.0f} ms | {h * 1000:.0f} ms | {ratio:.2f} | {rt_s * 1000:.0f} ms "
                     f"({status}) | {'yes' if same else 'NO'} |")
    path = Path(__file__).parent / "RESULTS.md"
    path.write_text(path.read_text().rstrip("\n") + "\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

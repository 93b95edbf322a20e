"""FilterLogEvents with real filter patterns: the store's answers equal the Python evaluator's."""

from __future__ import annotations

import time

import orjson
import pytest

from rexwatch.lang.filterpattern import compile_pattern, flatten_fields
from rexwatch.services.logs import LogsService
from rexwatch.services.logs.model import LogEventBatch

MESSAGES = [
    '{"level": "ERROR", "duration": 1500, "path": "/api/tenants", "user": {"id": "u1"}}',
    '{"level": "INFO", "duration": 12.50, "path": "/api/users", "ok": true, "n": null}',
    '{"level": "WARN", "duration": "1200", "path": "/health", "tags": ["a", "b"]}',
    '{"level": "ERROR", "duration": 1e3, "path": "/api/roles", "user": {"id": "u2"}}',
    '{"level":"INFO","duration":-5,"path":"/x\\ty","msg":"quote \\" and \\\\ slash"}',
    "plain text line with ERROR inside",
    "127.0.0.1 alice GET /api/users 404 512",
    "10.0.0.2 bob POST /api/tenants 201 77",
    "not json {",
]

PATTERNS = [
    "", "ERROR", '"with ERROR"', "?ERROR ?WARN", "ERROR -plain",
    "{ $.duration > 1000 }", "{ $.duration >= 1000 && $.level = \"ERROR\" }", '{ $.level = "ERR*" }',
    "{ $.user.id = \"u2\" }", "{ $.ok IS TRUE }", "{ $.n IS NULL }", "{ $.tags[1] = \"b\" }",
    "{ $.missing NOT EXISTS }", "{ $.path != \"/health\" }", "{ $.msg = \"*slash\" }",
    "[ip, user, method, path, status = 4*, bytes]", "[ip, ..., status >= 200, bytes < 100]",
    "%ERR[O]R%",
]


@pytest.fixture
def seeded(runtime):
    svc = runtime.service(LogsService)
    svc.create_log_group("/f")
    svc.create_log_stream("/f", "s")
    t = int(time.time() * 1000) - 60_000
    svc.put_log_events("/f", "s", LogEventBatch.from_records([{"timestamp": t + i, "message": m} for i, m in enumerate(MESSAGES)]))
    return svc


def test_index_policy_fields_match_the_compiler_contract(runtime, seeded):
    paths = ["level", "duration", "user.id", "tags[1]", "ok", "n", "msg", "path"]
    seeded.put_index_policy("/f", orjson.dumps({"Fields": paths}).decode())
    seeded.create_log_stream("/f", "indexed")
    t = int(time.time() * 1000)
    seeded.put_log_events("/f", "indexed", LogEventBatch.from_records([{"timestamp": t + i, "message": m} for i, m in enumerate(MESSAGES)]))
    sql, params = seeded.event_source(["/f"], None, None, ["indexed"])
    rows = runtime.telemetry.query_rows(f"SELECT message, fields FROM ({sql}) ORDER BY seq", params)
    assert len(rows) == len(MESSAGES)
    for message, fields in rows:
        flat = flatten_fields(message)
        assert dict(fields) == {p: flat[p] for p in paths if p in flat}, message
    # Reading those paths from the map gives the same answers as parsing the message.
    for pattern in PATTERNS:
        compiled = compile_pattern(pattern)
        psql, pparams = compiled.sql(indexed_fields=compiled.referenced_fields & set(paths))
        got = runtime.telemetry.query_rows(f"SELECT message FROM ({sql}) WHERE {psql} ORDER BY seq",
                                           {**params, **pparams})
        assert [r[0] for r in got] == [m for m in MESSAGES if compiled.match(m)], pattern


@pytest.mark.parametrize("pattern", PATTERNS)
def test_filter_results_equal_python_evaluation(seeded, pattern):
    got = [e.message for e in seeded.filter_log_events(["/f"], pattern=pattern).events]
    compiled = compile_pattern(pattern)
    assert got == [m for m in MESSAGES if compiled.match(m)]


def test_index_policy_fields_give_the_same_answers(runtime, seeded):
    from rexwatch.services.logs.patterns import POLICY_MARGIN_MS, indexed_paths, pattern_sql

    seeded.put_index_policy("/f", '{"Fields": ["user.id", "tags[1]", "duration"]}')
    g = seeded.group("/f")
    compiled = compile_pattern('{ $.user.id = "u2" && $.status > 1 }')
    assert indexed_paths(compiled, [g]) == ({"user.id"}, g.index_policy_ms + POLICY_MARGIN_MS)
    assert indexed_paths(compiled, [g, Group_without_policy()]) == (set(), None)
    sql, _ = pattern_sql('{ $.user.id = "u2" }', [g])
    assert sql.startswith("if(ingest_ts >= ") and "fields[" in sql
    # Rows from before the policy still answer by parsing their message.
    got = [e.message for e in seeded.filter_log_events(["/f"], pattern='{ $.user.id = "u2" }').events]
    assert got == [MESSAGES[3]]

    # A group whose policy predates all its rows answers from the map, with the same results.
    seeded.create_log_group("/idx")
    seeded.create_log_stream("/idx", "s")
    seeded.put_index_policy("/idx", '{"Fields": ["user.id", "tags[1]", "duration", "level", "ok", "n"]}')
    seeded.catalog.update_group("/idx", index_policy_ms=int(time.time() * 1000) - 3_600_000)
    t = int(time.time() * 1000)
    seeded.put_log_events("/idx", "s", LogEventBatch.from_records([{"timestamp": t + i, "message": m} for i, m in enumerate(MESSAGES)]))
    for pattern in PATTERNS:
        got = [e.message for e in seeded.filter_log_events(["/idx"], pattern=pattern).events]
        assert got == [m for m in MESSAGES if compile_pattern(pattern).match(m)], pattern


def Group_without_policy():
    from rexwatch.services.logs.model import Group

    return Group(99, "/other", 0, None, None, "STANDARD", False, None, None)


def test_pattern_pages_read_in_growing_windows_equal_one_scan(runtime):
    """A pattern with a time range is searched window by window (the first a 24th of the range or
    15 minutes, each next four times wider): paging through dense, sparse and absent matches, with pages
    ending inside and between windows, returns exactly the events one scan finds, in order."""
    svc = runtime.service(LogsService)
    svc.create_log_group("/w")
    svc.create_log_stream("/w", "s")
    end = int(time.time() * 1000) - 1000
    start = end - 86_400_000
    # Dense matches in the first hour, none for most of the day, a few near the end and at the very end.
    times = [start + i * 1000 for i in range(3000)] + [end - 3_600_000 + i * 60_000 for i in range(50)] + [end]
    svc.put_log_events("/w", "s", LogEventBatch.of(
        [(t, f'{{"n": {k}, "hit": {"true" if k % 3 == 0 else "false"}}}') for k, t in enumerate(times)]))
    for pattern in ("{ $.hit IS TRUE }", "{ $.n > 2990 }", "{ $.n = 3050 }", "{ $.n < 0 }"):
        compiled = compile_pattern(pattern)
        want = [e.message for e in svc.filter_log_events(["/w"], pattern=pattern, limit=10_000).events
                if compiled.match(e.message)]
        for size in (7, 100, 10_000):
            got, token = [], None
            while True:
                page = svc.filter_log_events(["/w"], start_ms=start, end_ms=end, pattern=pattern, limit=size,
                                             next_token=token)
                got += [e.message for e in page.events]
                token = page.next_token
                if token is None:
                    break
            assert got == want, (pattern, size)

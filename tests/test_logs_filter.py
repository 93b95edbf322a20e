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

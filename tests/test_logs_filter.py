"""FilterLogEvents with real filter patterns: the store's answers equal the Python evaluator's."""

from __future__ import annotations

import time

import orjson
import pytest

from rexwatch.lang.filterpattern import compile_pattern, flatten_fields
from rexwatch.services.logs import LogsService

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
    svc.put_log_events("/f", "s", [{"timestamp": t + i, "message": m} for i, m in enumerate(MESSAGES)])
    return svc


def test_index_policy_fields_match_the_compiler_contract(runtime, seeded):
    paths = ["level", "duration", "user.id", "tags[1]", "ok", "n", "msg", "path"]
    seeded.put_index_policy("/f", orjson.dumps({"Fields": paths}).decode())
    seeded.create_log_stream("/f", "indexed")
    t = int(time.time() * 1000)
    seeded.put_log_events("/f", "indexed", [{"timestamp": t + i, "message": m} for i, m in enumerate(MESSAGES)])
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
    got = [e["message"] for e in seeded.filter_log_events(["/f"], pattern=pattern).events]
    compiled = compile_pattern(pattern)
    assert got == [m for m in MESSAGES if compiled.match(m)]


def test_index_policy_fields_give_the_same_answers(runtime, seeded):
    seeded.put_index_policy("/f", '{"Fields": ["user.id", "tags[1]"]}')
    g = seeded.group("/f")
    later = g.index_policy_ms + 3 * 3600_000
    from rexwatch.services.logs.patterns import indexed_paths

    compiled = compile_pattern('{ $.user.id = "u2" && $.duration > 1 }')
    assert indexed_paths(compiled, [g], later) == {"user.id"}
    assert indexed_paths(compiled, [g], None) == set()
    seeded.create_log_stream("/f", "new")
    t = int(time.time() * 1000)
    seeded.put_log_events("/f", "new", [{"timestamp": t, "message": MESSAGES[3]}])
    got = [e["message"] for e in seeded.filter_log_events(["/f"], pattern='{ $.user.id = "u2" }').events]
    assert got == [MESSAGES[3], MESSAGES[3]]

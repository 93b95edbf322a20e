"""The generated SQL, run in ClickHouse, selects exactly the messages the Python evaluator matches."""

from __future__ import annotations

import pyarrow as pa
import pytest

from filterpattern_data import messages
from rexwatch.lang.filterpattern import compile_pattern, flatten_fields

MESSAGES = messages()

PATTERNS = [
    "",
    "ERROR",
    "error",
    "ERROR Exception",
    "?ERROR ?WARN",
    "ERROR -INTERNAL",
    "-ERROR",
    "ERROR ?timeout ?reset -DEBUG",
    '"INTERNAL SERVER ERROR"',
    '"ERROR:"',
    '"[ERROR]"',
    "ERROR:",
    "user_id",
    '"db-pool"',
    "café",
    "Exception",
    "AUTHORIZED",
    "%AUTHORIZED%",
    "%^ERROR%",
    "%ERROR$%",
    "%[Ee]rror|[Ff]ail%",
    "%\\d{3}%",
    "GET -%health%",
    '{ $.level = "ERROR" }',
    "{ $.level = ERROR }",
    "{ $.level != ERROR }",
    "{ $.level = E* }",
    "{ $.level = *O* }",
    '{ $.tenant = "" }',
    '{ $.tenant != "" }',
    "{ $.duration > 1000 }",
    "{ $.duration >= 1500 }",
    "{ $.duration < 10.5 }",
    "{ $.duration <= 0 }",
    "{ $.duration = 1500 }",
    "{ $.duration != 1500 }",
    '{ $.duration = "1500" }',
    "{ $.duration = fast }",
    "{ $.duration = * }",
    "{ $.duration NOT EXISTS }",
    "{ $.duration IS NULL }",
    "{ $.status = 4* }",
    "{ $.status = 404 || $.status = 410 }",
    "{ $.status >= 500 && $.req.method = POST }",
    '{ ($.status >= 500 || $.level = "ERROR") && $.req.path = "/api/*" }',
    "{ $.req.path = %invit% }",
    "{ $.req.path != %api% }",
    "{ $.req.id = req-1* }",
    "{ $.tags[0] = slow }",
    "{ $.tags[1] = * }",
    "{ $.cached IS TRUE }",
    "{ $.cached IS FALSE }",
    "{ $.cached = true }",
    "{ $.error IS NULL }",
    "{ $.error NOT EXISTS }",
    "{ $.error = * }",
    "{ $.error.code = E1 }",
    "{ $.error.retry IS TRUE }",
    "{ $.error = boom }",
    "{ $.big = 1e21 }",
    "{ $.big = 1* }",
    "{ $.big > 1e20 }",
    "{ $.big = 0 }",
    "{ $.big = 1000 }",
    "{ $.a.b[0].c = 5 }",
    "{ $.a.b[1] > 6 }",
    "{ $.x IS NULL }",
    "{ $.level = INFO }",
    "[ip, user, username, timestamp, request, status_code, bytes]",
    "[ip, user, username, timestamp, request, status_code = 404, bytes]",
    "[ip, user, username, timestamp, request, status_code = 4*, bytes > 1000]",
    "[ip, user, username, timestamp, request = *html*, status_code, bytes]",
    "[ip, ident, user = frank, ...]",
    "[..., status_code = 404 || status_code = 410, bytes]",
    "[..., status_code >= 500 && status_code < 503, bytes]",
    "[ip = 10.0.1.*, ...]",
    "[ip, ..., request = %POST%, ...]",
    "[..., request = *users*, ..., agent]",
    "[a, b, c]",
    "[word]",
    '[..., status_code != 200, bytes = "-"]',
    "[..., bytes != 0]",
]


@pytest.fixture(scope="module")
def store(chdb_engine, tmp_path_factory):
    from rexwatch.testing import make_runtime

    rt = make_runtime(tmp_path_factory.mktemp("fpdiff"), chdb_engine, workers="none")
    tx = rt.telemetry
    tx.execute("CREATE TABLE {db}.fp (id UInt32, message String, fields Map(String, String)) "
               "ENGINE = MergeTree ORDER BY id")
    fields = [list(flatten_fields(m).items()) for m in MESSAGES]
    tx.insert_arrow("fp", pa.table({
        "id": pa.array(range(len(MESSAGES)), pa.uint32()),
        "message": MESSAGES,
        "fields": pa.array(fields, pa.map_(pa.string(), pa.string())),
    }))
    all_paths = {k for f in fields for k, _ in f}
    yield tx, all_paths
    rt.close(close_stores=False)
    tx.drop_database()


def test_fields_round_trip(store):
    tx, _ = store
    rows = dict(tx.query_rows("SELECT id, fields FROM {db}.fp"))
    assert dict(rows[0]) == flatten_fields(MESSAGES[0])


@pytest.mark.parametrize("text", PATTERNS)
def test_sql_agrees_with_python(store, text):
    tx, all_paths = store
    p = compile_pattern(text)
    expected = {i for i, m in enumerate(MESSAGES) if p.match(m)}
    for indexed in (frozenset(), frozenset(all_paths)):
        sql, params = p.sql(indexed_fields=indexed)
        got = {r[0] for r in tx.query_rows(f"SELECT id FROM {{db}}.fp WHERE {sql}", params)}
        diff = sorted(got ^ expected)
        assert not diff, (text, bool(indexed), [(i, MESSAGES[i], i in got) for i in diff[:5]])
    # Each pattern selects some rows but not all: the comparison is not vacuous.
    if text:
        assert 0 < len(expected) < len(MESSAGES), len(expected)

"""The generated SQL, run in ClickHouse, selects exactly the messages the Python evaluator matches,
reading JSON fields from the message and from a ``fields`` map filled by the production extractor
(``rexwatch.lang.jsontext.extract_fields``, what ingest stores for groups with an index policy)."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from filterpattern_data import messages
from rexwatch.lang.filterpattern import compile_pattern, flatten_fields
from rexwatch.lang.jsontext import extract_fields

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
    '{ $.req.path = "/api/users" }',
    "{ $.msg = *ERROR* }",
    "{ $.msg = ERROR* }",
    '{ $.msg = "a ERROR b" }',
    "{ $.level = ERROR-* }",
    "{ $.status = 5* }",
    "{ $.status != 5* }",
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
    # duplicate keys, unicode and number formats, read the same from the message and the fields map
    '{ $.level = "INFO" && $.status = 500 }',
    "{ $.req.method = POST }",
    "{ $.req.method = GET && $.req.path NOT EXISTS }",
    "{ $.tenant = ümlaut }",
    '{ $.msg = "café ☕ ERROR" }',
    "{ $.duration = 1000 }",
    '{ $.duration = "1000" }',
    "{ $.duration = 1 }",
    "{ $.status = 150 }",
    "{ $.duration = -0 }",
    '{ $.big = "-0" }',
    '{ $.big = "123456789012345678901234567890" }',
    '{ $.duration = "18446744073709551616" }',
    "{ $.big > 1e28 }",
    # wildcards and keys with periods
    '{ $.tags[*] = "beta" }',
    "{ $.tags[*] = b* }",
    "{ $.tags[*] != beta }",
    "{ $.tags[*] = * }",
    "{ $.tags[*] IS NULL }",
    "{ $.tags[*] NOT EXISTS }",
    "{ $.tags.* = beta }",
    "{ $.arrayKey[*] = %val.{2}% }",
    "{ $.* = %111\\.111\\.111\\.1[0-9]{1,2}% }",
    "{ $.* = ERROR }",
    "{ $.* > 400 }",
    "{ $.objectList[*].id > 1 }",
    "{ $.objectList[*].name = a && $.objectList[1].name = b }",
    "{ $.error.* = E1 }",
    "{ $.['cluster.name'] = \"blue\" }",
    "{ $.cluster.name = blue }",
    "{ $.['cluster.name'] = * }",
    "{ $['cluster'].name = blue }",
    # fewer fields than the event has words: the last field takes the rest of the line
    "[w1=ERROR, w2]",
    "[w1=ERROR || w1=WARNING, w2]",
    "[w1=ERROR || w1=WARN, w2]",
    "[w1!=ERROR && w1!=WARN, w2]",
    "[w1, w2 = *request*]",
    '[w1, w2 = "quoted rest"]',
    "[w1, w2 = %^spaced%]",
    "[w1 = WARN, w2 = %^\\[a b\\] c$%]",
    "[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]",
    "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, response_time]",
    # several floating runs: each takes its leftmost fit
    "[a, ..., x0!=q, ..., x1!=q, ..., x2!=q, ..., z=404, ...]",
    "[..., b = ERROR, ..., c = ERROR, ...]",
    "[..., b = %^[0-9]+$%, ..., c = %^[0-9]+$%]",
]


@pytest.fixture(scope="module")
def store(chdb_engine, tmp_path_factory):
    from rexwatch.testing import make_runtime

    rt = make_runtime(tmp_path_factory.mktemp("fpdiff"), chdb_engine, workers="none")
    tx = rt.telemetry
    tx.execute(
        "CREATE TABLE {db:Identifier}.fp (id UInt32, message String, fields Map(LowCardinality(String), String)) "
        "ENGINE = MergeTree ORDER BY id"
    )
    all_paths = sorted({k for m in MESSAGES for k in flatten_fields(m)})
    tx.insert_arrow(
        "fp",
        pa.table(
            {
                "id": pa.array(range(len(MESSAGES)), pa.uint32()),
                "message": MESSAGES,
                "fields": extract_fields(pa.array(MESSAGES, pa.string()), all_paths),
            }
        ),
    )
    yield tx, all_paths
    rt.close(close_stores=False)
    tx.drop_database()


def test_fields_round_trip(store):
    """The production extractor (orjson where it is safe) agrees with the exact reader on every message."""
    tx, _ = store
    rows = dict(tx.query_rows("SELECT id, fields FROM {db:Identifier}.fp"))
    for i, m in enumerate(MESSAGES):
        assert dict(rows[i]) == flatten_fields(m), m


def test_duplicate_keys_read_the_first_everywhere(store):
    tx, all_paths = store
    i = MESSAGES.index('{"level":"INFO","level":"ERROR"}')
    assert dict(tx.query_rows("SELECT id, fields FROM {db:Identifier}.fp")[i][1])["level"] == "INFO"
    first, last = compile_pattern('{ $.level = "INFO" }'), compile_pattern('{ $.level = "ERROR" }')
    assert first.match(MESSAGES[i]) and not last.match(MESSAGES[i])
    for indexed in (frozenset(), frozenset(all_paths)):
        for p, want in ((first, True), (last, False)):
            sql, params = p.sql(indexed_fields=indexed)
            got = tx.query_rows(f"SELECT {sql} FROM {{db:Identifier}}.fp WHERE id = {i}", params)
            assert bool(got[0][0]) is want, (p, bool(indexed))


@pytest.mark.parametrize("text", PATTERNS)
def test_sql_agrees_with_python(store, text):
    tx, all_paths = store
    p = compile_pattern(text)
    expected = {i for i, m in enumerate(MESSAGES) if p.match(m)}
    for indexed in (frozenset(), frozenset(all_paths)):
        sql, params = p.sql(indexed_fields=indexed)
        got = {r[0] for r in tx.query_rows(f"SELECT id FROM {{db:Identifier}}.fp WHERE {sql}", params)}
        diff = sorted(got ^ expected)
        assert not diff, (text, bool(indexed), [(i, MESSAGES[i], i in got) for i in diff[:5]])
    # Each pattern selects some rows but not all: the comparison is not vacuous.
    if text:
        assert 0 < len(expected) < len(MESSAGES), len(expected)


# -- generated patterns ----------------------------------------------------------

TERMS = [
    "ERROR",
    "error",
    "Exception",
    '"INTERNAL SERVER ERROR"',
    '"ERROR:"',
    '"[ERROR]"',
    "user_id",
    "timeout",
    "GET",
    "404",
    "café",
    "%ERR%",
    "%^[A-Z]+%",
    '"db-pool"',
    "NullPointerException",
    "api",
]
PATHS = [
    "level",
    "duration",
    "status",
    "req.path",
    "req.method",
    "tags[0]",
    "tags[1]",
    "cached",
    "error",
    "error.code",
    "big",
    "msg",
    "tenant",
    "a.b[0].c",
    "nothere",
]
NUMBERS = ["0", "100", "404", "1000", "1500", "-1", "1e21", "2.5", "500"]
STRINGS = [
    "ERROR",
    '"ERROR"',
    "E*",
    "*O*",
    '""',
    "*",
    "4*",
    "5*",
    "true",
    '"1500"',
    "fast",
    "/api/*",
    "req-1*",
    "acme",
    "ACME",
    "*ERROR*",
    '"a ERROR b"',
    "%ERR%",
    "%^/api%",
    "%[0-9]+%",
]

text_pattern = st.lists(
    st.tuples(st.sampled_from(["", "?", "-"]), st.sampled_from(TERMS)), min_size=1, max_size=4
).map(lambda items: " ".join(p + t for p, t in items))


def json_condition():
    sel = st.sampled_from(PATHS).map(lambda p: "$." + p)
    compare = st.one_of(
        st.tuples(sel, st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), st.sampled_from(NUMBERS)),
        st.tuples(sel, st.sampled_from(["=", "!="]), st.sampled_from(STRINGS)),
    ).map(" ".join)
    is_ = st.tuples(sel, st.sampled_from(["IS NULL", "IS TRUE", "IS FALSE", "NOT EXISTS"])).map(" ".join)
    return st.one_of(compare, is_)


json_expr = st.recursive(
    json_condition(),
    lambda inner: st.tuples(inner, st.sampled_from(["&&", "||"]), inner).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    ),
    max_leaves=4,
)
json_pattern = json_expr.map(lambda e: "{ " + e + " }")

FIELD_VALUES = [
    "404",
    "4*",
    "5*",
    "200",
    "frank",
    '"-"',
    "*html*",
    "*users*",
    "10.0.1.*",
    "%POST%",
    "0",
    "1000",
]
slot = st.one_of(
    st.just("..."),
    st.tuples(st.sampled_from(["=", "!=", ">", "<"]), st.sampled_from(FIELD_VALUES)),
    st.just(None),
)


def delimited(slots):
    out, names = [], 0
    for s in slots:
        if s == "...":
            out.append("...")
            continue
        names += 1
        name = f"f{names}"
        if s is None:
            out.append(name)
        else:
            op, value = s
            if op in "<>" and not value.lstrip("-").isdigit():
                op = "="
            out.append(f"{name} {op} {value}")
    return "[" + ", ".join(out) + "]"


delimited_pattern = st.lists(slot, min_size=1, max_size=9).map(delimited)


# Deterministic in CI; REXWATCH_FUZZ_EXAMPLES=5000 explores further on a developer's machine.
@settings(
    max_examples=int(os.environ.get("REXWATCH_FUZZ_EXAMPLES", "100")),
    deadline=None,
    derandomize="REXWATCH_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.one_of(text_pattern, json_pattern, delimited_pattern))
def test_generated_patterns_agree(store, text):
    tx, all_paths = store
    assume(text.count("%") <= 4)  # CloudWatch allows two regexes per JSON or space-delimited pattern
    p = compile_pattern(text)
    expected = {i for i, m in enumerate(MESSAGES) if p.match(m)}
    for indexed in (frozenset(), frozenset(all_paths)):
        sql, params = p.sql(indexed_fields=indexed)
        got = {r[0] for r in tx.query_rows(f"SELECT id FROM {{db:Identifier}}.fp WHERE {sql}", params)}
        diff = sorted(got ^ expected)
        assert not diff, (text, bool(indexed), [(i, MESSAGES[i], i in got) for i in diff[:5]])


@pytest.mark.parametrize("runs", [2, 3, 4, 8, 20])
def test_many_floating_runs_agree(store, runs):
    """The shape that once took exponential time: SQL and Python still agree on it."""
    tx, _ = store
    for last in ("nomatch", "404"):
        text = "[a, ..., " + ", ..., ".join(f"x{i}!=q" for i in range(runs)) + f", ..., z={last}, ...]"
        p = compile_pattern(text)
        expected = {i for i, m in enumerate(MESSAGES) if p.match(m)}
        sql, params = p.sql()
        got = {r[0] for r in tx.query_rows(f"SELECT id FROM {{db:Identifier}}.fp WHERE {sql}", params)}
        assert got == expected, text
        assert bool(expected) is (last == "404" and runs < 8), (text, len(expected))

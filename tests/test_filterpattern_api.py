"""The public API other components code against: compile_pattern, sql, match, extract, referenced_fields."""

from __future__ import annotations

import pyarrow as pa
import pytest

from rexwatch.aws.errors import to_aws
from rexwatch.errors import QueryError
from rexwatch.lang.filterpattern import compile_pattern, flatten_fields

ACCESS = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 1534'
API = '{"level": "ERROR", "duration": 1234, "req": {"path": "/api/users", "ids": [7, 8]}, "ok": false, "x": null}'


def test_text_terms_follow_the_documented_examples():
    events = [
        "[ERROR 400] BAD REQUEST",
        "[ERROR 401] UNAUTHORIZED REQUEST",
        "[ERROR 419] MISSING ARGUMENTS",
        "[ERROR 420] INVALID ARGUMENTS",
        "[ERROR 500] INTERNAL SERVER ERROR",
        "[WARN] disk 90%",
        "[SUCCESS 200] AUTHORIZED REQUEST",
    ]

    def hits(pattern):
        return [e for e in events if compile_pattern(pattern).match(e)]

    assert len(hits("ERROR")) == 5
    assert hits("ERROR ARGUMENTS") == events[2:4]
    assert len(hits("?ERROR ?WARN")) == 6
    assert hits('"INTERNAL SERVER ERROR"') == [events[4]]
    assert hits("ERROR -ARGUMENTS") == [events[0], events[1], events[4]]
    assert hits("AUTHORIZED") == [events[6]]  # a term matches whole words only
    assert hits("%AUTHORIZED%") == [events[1], events[6]]  # a regex matches anywhere
    assert hits("error") == []  # case-sensitive


def test_json_match_and_extract():
    p = compile_pattern("{ $.duration > 1000 }")
    assert p.match(API)
    values = p.extract(API)
    assert values["$.duration"] == "1234"
    assert values["$.req.path"] == "/api/users"  # dimensions may name fields the pattern does not test
    assert values["$.req.ids[1]"] == "8"
    assert values["$.ok"] == "false"
    assert "$.x" not in values  # null has no value
    assert p.extract('{"duration": 5}') is None
    assert p.extract("not json") is None
    assert compile_pattern("{ $.duration > 1000 }").match('{"duration": "1500"}')  # numeric text counts
    assert not p.match('{"duration": "slow"}')
    assert not p.match('{"duration": true}')


def test_space_delimited_extract_binds_names():
    p = compile_pattern("[ip, id, user, timestamp, request, status_code = 4*, bytes]")
    assert p.extract(ACCESS) == {
        "ip": "127.0.0.1",
        "id": "-",
        "user": "frank",
        "timestamp": "10/Oct/2000:13:25:15 -0700",
        "request": "GET /apache_pb.gif HTTP/1.0",
        "status_code": "404",
        "bytes": "1534",
    }
    assert compile_pattern("[..., status_code = 404, size > 1000]").extract(ACCESS) == {
        "status_code": "404",
        "size": "1534",
    }
    assert compile_pattern("[ip, ..., status_code = 200, bytes]").extract(ACCESS) is None
    # Without ..., the last field takes the rest of the line (the documented [w1=ERROR, w2] form).
    assert compile_pattern("[ip, user]").extract(ACCESS) == {
        "ip": "127.0.0.1",
        "user": '- frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 1534',
    }
    assert compile_pattern("[w1=ERROR, w2]").extract("ERROR 09/25/2014 12:00:02  Failed  ") == {
        "w1": "ERROR",
        "w2": "09/25/2014 12:00:02  Failed",
    }
    assert compile_pattern("[w1=ERROR, w2]").extract("ERROR") is None  # fewer words than fields
    assert compile_pattern("[w1=ERROR]").extract("ERROR 400") is None  # w1 is "ERROR 400"


def test_text_extract_binds_nothing():
    assert compile_pattern("ERROR").extract("an ERROR here") == {}
    assert compile_pattern("ERROR").extract("fine") is None


def test_referenced_fields():
    p = compile_pattern(
        '{ ($.duration > 1 || $.req.path = "/x") && $.tags[0] IS NULL && $.a[1].b NOT EXISTS }'
    )
    assert p.referenced_fields == {"duration", "req.path", "tags[0]", "a[1].b"}
    assert compile_pattern("ERROR").referenced_fields == set()
    assert compile_pattern("[a, b = 1]").referenced_fields == set()


def test_text_and_kind():
    assert compile_pattern(" { $.a = 1 } ").text == " { $.a = 1 } "
    assert [compile_pattern(t).kind for t in ("", "x", "{ $.a = 1 }", "[a]")] == [
        "all",
        "text",
        "json",
        "delimited",
    ]


def test_parameters_are_unique_per_call_and_prefix_is_respected():
    p = compile_pattern("ERROR")
    (s1, p1), (s2, p2) = p.sql(), p.sql()
    assert set(p1).isdisjoint(p2) and s1 != s2
    sql, params = p.sql(param_prefix="q7")
    assert sql == "hasToken(message, {q7_0:String})" and params == {"q7_0": "ERROR"}


def test_columns_and_indexed_fields_are_honoured():
    p = compile_pattern("{ $.duration > 1000 && $.level = ERROR }")
    sql, _ = p.sql(message_col="m", fields_col="f", indexed_fields={"duration"}, param_prefix="a")
    assert "toFloat64OrNull(f[{a_" in sql
    assert "JSONExtractString(m, " in sql
    assert "message" not in sql and "fields" not in sql
    sql, _ = p.sql(indexed_fields=None, param_prefix="a")
    assert "fields[" not in sql


def test_malformed_pattern_maps_to_invalid_parameter_for_aws():
    with pytest.raises(QueryError) as info:
        compile_pattern("{ $.a = }")
    assert to_aws(info.value, "logs").code == "InvalidParameterException"
    assert info.value.status == 400


def test_flatten_fields_contract():
    assert flatten_fields(API) == {
        "level": "ERROR",
        "duration": "1234",
        "req.path": "/api/users",
        "req.ids[0]": "7",
        "req.ids[1]": "8",
        "ok": "false",
    }
    assert flatten_fields('{"n": 1.50, "m": 1e3, "s": "1.50"}') == {"n": "1.5", "m": "1000", "s": "1.50"}
    assert flatten_fields("plain text") == {}


def test_several_patterns_share_one_query(runtime):
    tx = runtime.telemetry
    tx.execute(
        "CREATE TABLE {db:Identifier}.ev (message String, fields Map(String, String)) ENGINE = MergeTree ORDER BY tuple()"
    )
    msgs = [API, ACCESS, "ERROR plain", '{"level": "INFO", "duration": 5}']
    tx.insert_arrow(
        "ev",
        pa.table(
            {
                "message": msgs,
                "fields": pa.array(
                    [list(flatten_fields(m).items()) for m in msgs], pa.map_(pa.string(), pa.string())
                ),
            }
        ),
    )
    a, pa_ = compile_pattern("ERROR").sql()
    b, pb = compile_pattern("{ $.duration > 1000 }").sql(indexed_fields={"duration"})
    c, pc = compile_pattern("[..., status = 404, bytes]").sql()
    rows = tx.query_rows(
        f"SELECT countIf({a}), countIf({b}), countIf({c}), countIf(NOT ({b})) FROM {{db:Identifier}}.ev",
        {**pa_, **pb, **pc},
    )
    assert rows == [(2, 1, 1, 3)]

"""Logs Insights: query -> result on fixed events in chdb (tests/insights_data.py)."""

from __future__ import annotations

import pytest

import insights_data as data
from rexwatch.lang.insights import compile_query


@pytest.fixture
def run(runtime):
    data.load(runtime.telemetry)

    def run(query: str, limit: int | None = None) -> list[dict[str, str]]:
        q = compile_query(query)
        sql, params = q.to_sql(data.SOURCE, {}, indexed_fields=data.INDEXED, limit=limit,
                               account_id="123456789012")
        rows = runtime.telemetry.query_rows(sql, params)
        return [{k: v for k, v in zip(q.output_columns, row, strict=True) if v is not None} for row in rows]

    return run


def test_runbook_find_errors(run) -> None:
    rows = run("fields @timestamp, @message\n| filter @message like /ERROR/\n| sort @timestamp desc\n| limit 100")
    assert [r["@timestamp"] for r in rows] == [
        "2026-01-01 00:03:00.000", "2026-01-01 00:02:30.000", "2026-01-01 00:00:30.000"]
    assert all("ERROR" in r["@message"] for r in rows)


def test_runbook_slow_requests(run) -> None:
    rows = run("fields @timestamp, method, path, duration\n| filter duration > 1000\n| sort duration desc\n"
               "| limit 50")
    assert [(r["method"], r["path"], r["duration"]) for r in rows] == [
        ("GET", "/api/users", "2300"), ("POST", "/api/tenants", "1500"), ("GET", "/api/tenants", "1001")]


def test_runbook_failed_logins(run) -> None:
    rows = run('fields @timestamp, user_id, ip_address\n| filter action = "login" and success = false\n'
               "| stats count() by user_id, ip_address")
    assert rows == [{"user_id": "u5", "ip_address": "203.0.113.9", "count()": "2"},
                    {"user_id": "u6", "ip_address": "198.51.100.4", "count()": "1"}]


def test_runbook_volume_by_endpoint(run) -> None:
    rows = run("fields @timestamp, path\n| stats count() by path\n| sort count desc")
    assert rows[0] == {"count()": "8"}  # events without a path form their own group
    assert rows[1:] == [{"path": "/api/tenants", "count()": "3"}, {"path": "/api/users", "count()": "3"},
                        {"path": "/api/invitations", "count()": "1"}] or rows[1:] == [
        {"path": "/api/users", "count()": "3"}, {"path": "/api/tenants", "count()": "3"},
        {"path": "/api/invitations", "count()": "1"}]


def test_default_sort_is_newest_first_and_default_fields(run) -> None:
    rows = run("filter @logStream = 'worker/1'")
    assert [r["@timestamp"] for r in rows] == ["2026-01-01 00:01:30.000", "2026-01-01 00:00:30.000"]
    assert set(rows[0]) == {"@timestamp", "@message"}


def test_limits_and_cap(run) -> None:
    assert len(run("limit 3")) == 3
    assert len(run("fields @timestamp", limit=2)) == 2
    assert len(run("limit 5 | limit 50")) == 5
    newest = run("limit 2 | sort @timestamp asc")
    assert [r["@timestamp"] for r in newest] == ["2026-01-01 00:09:00.000", "2026-01-01 00:10:00.000"]


def test_system_fields_and_discovered_json(run) -> None:
    rows = run("fields @log, @logStream, @ingestionTime, user.id, user.roles.0.name, tags.1 "
               "| filter ispresent(user.id)")
    assert rows == [{"@log": "123456789012:/aws/ecs/utm-api", "@logStream": "api/0",
                     "@ingestionTime": "2026-01-01 00:10:01.000", "user.id": "u7", "user.roles.0.name": "admin",
                     "tags.1": "b"}]


def test_indexed_field_and_in_list(run) -> None:
    rows = run('filter level in ["ERROR", "WARN"] | stats count() as n by level')
    assert rows == [{"level": "ERROR", "n": "1"}, {"level": "WARN", "n": "3"}]


def test_stats_aggregates(run) -> None:
    rows = run("filter ispresent(duration) | stats count(*) as n, sum(duration), avg(duration), min(duration), "
               "max(duration), pct(duration, 50), count_distinct(user_id), earliest(path), latest(path), "
               "sortsFirst(path), sortsLast(path), min(path)")
    assert rows == [{"n": "7", "sum(duration)": "6040", "avg(duration)": "862.8571428571429",
                     "min(duration)": "40", "max(duration)": "2300", "pct(duration, 50)": "999",
                     "count_distinct(user_id)": "4", "earliest(path)": "/api/tenants", "latest(path)": "/api/users",
                     "sortsFirst(path)": "/api/invitations", "sortsLast(path)": "/api/users",
                     "min(path)": "/api/invitations"}]
    sd = run("filter ispresent(duration) | stats stddev(duration) as sd")
    assert abs(float(sd[0]["sd"]) - 851.5422) < 0.01 or abs(float(sd[0]["sd"]) - 833.17) < 1


def test_bin_buckets_and_second_stats(run) -> None:
    rows = run("stats count(*) as c by bin(5m)")
    assert rows == [{"bin(5m)": "2026-01-01 00:10:00.000", "c": "1"},
                    {"bin(5m)": "2026-01-01 00:05:00.000", "c": "5"},
                    {"bin(5m)": "2026-01-01 00:00:00.000", "c": "9"}]
    again = run("stats count(*) as c by bin(5m) | stats max(c) as most, sum(c) as total")
    assert again == [{"most": "9", "total": "15"}]
    filtered = run("stats count(*) as c by bin(5m) | filter c > 1 | sort c asc")
    assert [r["c"] for r in filtered] == ["5", "9"]


def test_parse_glob_and_regex(run) -> None:
    rows = run('parse @message "* * job * *" as when, lvl, job, rest | filter ispresent(job) '
               "| fields lvl, job | sort job")
    assert rows == [{"lvl": "ERROR", "job": "42"}, {"lvl": "INFO", "job": "43"}, {"lvl": "ERROR", "job": "44"}]
    rows = run(r"parse @message /user=(?<who>\w+) action=(\w+) tenant=(?<tenant>[\w-]+)/ "
               "| filter ispresent(who) | display who, tenant")
    assert rows == [{"who": "alice", "tenant": "t-9"}]
    rows = run(r"parse @message /user=(?<user.name>\w+)/ | filter user.name like /^ali/ | display user.name")
    assert rows == [{"user.name": "alice"}]
    rows = run(r'parse @message "took=*ms" as took | filter took > 10 | fields took * 2 as double')
    assert rows == [{"double": "30"}]


def test_display_and_dedup(run) -> None:
    rows = run("fields user_id, path | filter ispresent(path) | sort @timestamp asc | dedup user_id "
               "| display user_id")
    assert [r.get("user_id") for r in rows] == ["u1", "u2", "u3", "u4", None]


def test_functions(run) -> None:
    rows = run('filter request_id = "req-0002" | fields concat(method, " ", path) as line, '
               'toupper(path) as up, tolower(method) as low, strlen(path) as len, substr(path, 5) as s1, '
               'substr(path, 5, 3) as s2, replace(path, "api", "v1") as rep, strcontains(path, "ten") as has, '
               'ltrim(path, "/") as lt, rtrim(concat(path, "  ")) as rt, trim("  x ") as t, isempty(nope) as e, '
               'isblank("  ") as b, abs(-duration) as a, ceil(duration / 7) as c, floor(duration / 7) as f, '
               "greatest(duration, 2000) as g, least(duration, 2000) as l, sqrt(duration * 6) as sq, "
               "pow(2, 10) as p, log(1) as ln, duration % 7 as m, 2 ^ 3 as x, "
               'coalesce(nope, user_id) as co, ispresent(nope) as pr')
    assert rows == [{"line": "POST /api/tenants", "up": "/API/TENANTS", "low": "post", "len": "12",
                     "s1": "tenants", "s2": "ten", "rep": "/v1/tenants", "has": "1", "lt": "api/tenants",
                     "rt": "/api/tenants", "t": "x", "e": "1", "b": "1", "a": "1500", "c": "215", "f": "214",
                     "g": "2000", "l": "1500", "sq": "94.86832980505137", "p": "1024", "ln": "0", "m": "2",
                     "x": "8", "co": "u2", "pr": "0"}]


def test_datetime_functions(run) -> None:
    rows = run('filter request_id = "req-0002" | fields datefloor(@timestamp, 1h) as fl, '
               "dateceil(@timestamp, 1h) as ce, toMillis(@timestamp) as ms, fromMillis(1767225600000) as fm, "
               "bin(1d) as day, datefloor(@timestamp, 1mo) as mon")
    assert rows == [{"fl": "2026-01-01 00:00:00.000", "ce": "2026-01-01 01:00:00.000", "ms": "1767225660000",
                     "fm": "2026-01-01 00:00:00.000", "day": "2026-01-01 00:00:00.000",
                     "mon": "2026-01-01 00:00:00.000"}]


def test_ip_functions(run) -> None:
    rows = run('filter isIpInSubnet(ip_address, "10.0.0.0/8") or isIpv6InSubnet(ip_address, "2001:db8::/32") '
               '| stats count() as n')
    assert rows == [{"n": "6"}]
    rows = run('filter ispresent(ip_address) | stats count() as n by isValidIpV4(ip_address) as v4, '
               'isValidIpV6(ip_address) as v6, isValidIp(ip_address) as any, '
               'isIpv4InSubnet(ip_address, "192.168.0.0/16") as lan')
    assert rows == [{"v4": "0", "v6": "1", "any": "1", "lan": "0", "n": "1"},
                    {"v4": "1", "v6": "0", "any": "1", "lan": "0", "n": "8"},
                    {"v4": "1", "v6": "0", "any": "1", "lan": "1", "n": "1"}]


def test_like_regex_not_and_arithmetic_filters(run) -> None:
    assert len(run("filter @message like /(?i)timeout/")) == 2
    assert len(run('filter @message like "timeout" and @message not like /31s/')) == 1
    assert len(run("filter method =~ /^P/")) == 2
    assert len(run("filter duration * 2 >= 3000 and not (path = '/api/users')")) == 1
    assert len(run("filter status != 200 and ispresent(status)")) == 3
    assert len(run("filter @timestamp >= 1767226080000")) == 3


def test_pattern(run) -> None:
    rows = run("filter @logStream like /worker/ | pattern @message")
    by_pattern = {r["@pattern"]: r for r in rows}
    errors = by_pattern["<*> ERROR job <*> failed: timeout after <*>"]
    assert errors["@sampleCount"] == "2" and errors["@severityLabel"] == "ERROR"
    assert errors["@ratio"] == "0.5"
    assert rows[0]["@pattern"] == "<*> ERROR job <*> failed: timeout after <*>"


def test_sort_puts_text_before_numbers_and_orders_text_naturally(run) -> None:
    up = run("fields coalesce(duration, action) as v | filter ispresent(v) | sort v asc | limit 6")
    assert [r["v"] for r in up] == ["login", "login", "login", "login", "40", "80"]
    down = run("fields coalesce(duration, action) as v | filter ispresent(v) | sort v desc | limit 2")
    assert [r["v"] for r in down] == ["2300", "1500"]
    keys = run(r"parse @message /job (?<job>\d+)/ | filter ispresent(job) | fields concat('v', pow(3, job - 40)) as k "
               "| sort k asc")
    assert [r["k"] for r in keys] == ["v9", "v27", "v81"]  # digit runs by length, then value


def test_literals_are_never_rewritten(run) -> None:
    """A string literal holding the executor's {db} placeholder is compared as written."""
    assert run("fields '{db}' as x, concat('a', '{db}') as y | limit 1") == [{"x": "{db}", "y": "a{db}"}]
    assert run("filter @message = '{db}' or @message like /\\{db\\}/ | stats count() as n") == [{"n": "0"}]


def test_bin_seconds_are_capped_at_a_minute(run) -> None:
    def buckets(period: str) -> list[tuple[str, str]]:
        return [(r[f"bin({period})"], r["c"]) for r in run(f"stats count(*) as c by bin({period})")]

    assert buckets("90s") == buckets("60s") == buckets("1m")
    assert buckets("90s") != buckets("2m")


def test_groups_without_any_value_are_not_rows(run) -> None:
    """Events that lack the group-by field form a group; a group with no value at all is no row."""
    rows = run("stats avg(duration) by path")
    assert rows and all(rows)
    assert {r.get("path") for r in rows} == {"/api/invitations", "/api/tenants", "/api/users"}
    assert run("stats count() as n by path")[-1] == {"n": "8"}  # ...but its count is a value

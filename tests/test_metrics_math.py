"""GetMetricData and metric math: golden results on known data, parse errors with positions."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from rexwatch.aws.errors import to_aws
from rexwatch.errors import Invalid, QueryError
from rexwatch.lang.mathexpr import Binary, Call, Num, Ref, parse
from rexwatch.services.metrics import MetricDataQuery, MetricDatum, MetricId, MetricsService, MetricStatSpec

NS = "UTM/Application"


@pytest.fixture
def svc(runtime):
    return runtime.service(MetricsService)


@pytest.fixture
def t0():
    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)).replace(second=0, microsecond=0)


def _put(svc, name, t0, values, dims=()):
    """One value per minute starting at t0; None leaves a gap."""
    data = [
        MetricDatum(name, list(dims), t0 + dt.timedelta(minutes=i), value=v)
        for i, v in enumerate(values)
        if v is not None
    ]
    svc.put_metric_data(NS, data)


def stat(qid, name, s="Sum", period=60, **kw):
    return MetricDataQuery(qid, MetricStatSpec(MetricId(NS, name), period, s), **kw)


def expr(qid, text, **kw):
    return MetricDataQuery(qid, expression=text, **kw)


def _run(svc, t0, queries, n=5, **kw):
    page = svc.get_metric_data(queries, t0, t0 + dt.timedelta(minutes=n), scan_by="TimestampAscending", **kw)
    return {
        (r.id, r.label): [None if math.isnan(v) else round(v, 6) for v in r.values] for r in page.results
    }, page


def test_parser_precedence_and_errors():
    assert parse("100 * e / r") == Binary("/", Binary("*", Num(100.0, 0), Ref("e", 6), 4), Ref("r", 10), 8)
    assert parse("-a ^ 2").__class__.__name__ == "Unary"
    assert parse("IF(a > 1, a, 0)") == Call(
        "IF", (Binary(">", Ref("a", 3), Num(1.0, 7), 5), Ref("a", 10), Num(0.0, 13)), 0
    )
    with pytest.raises(QueryError) as e:
        parse("m1 + * m2")
    assert e.value.col == 6
    with pytest.raises(QueryError) as e:
        parse("SUM([m1, m2)")
    assert "expected ']'" in e.value.message and e.value.col == 12
    with pytest.raises(QueryError) as e:
        parse("m1 $ 2")
    assert e.value.col == 4


def test_error_rate_expression(svc, t0):
    _put(svc, "5XXError", t0, [1, 0, 5, None, 2])
    _put(svc, "RequestCount", t0, [100, 50, 50, 10, 0])
    got, _ = _run(
        svc,
        t0,
        [
            stat("errors", "5XXError", return_data=False),
            stat("requests", "RequestCount", return_data=False),
            expr("rate", "100 * errors / requests", label="Error rate"),
        ],
    )
    # No datapoint where errors is missing; division by zero drops the point.
    assert got == {("rate", "Error rate"): [1.0, 0.0, 10.0]}


def test_functions_golden(svc, t0):
    _put(svc, "A", t0, [1, 2, None, 4, 8])
    _put(svc, "B", t0, [10, 10, 10, None, 10])
    q = [stat("a", "A", return_data=False), stat("b", "B", return_data=False)]
    cases = {
        "a + b": [11, 12, 18],
        "SUM([a, b])": [11, 12, 10, 4, 18],
        "AVG([a, b])": [5.5, 6, 10, 4, 9],
        "MAX([a, b])": [10, 10, 10, 4, 10],
        "MIN([a, b])": [1, 2, 10, 4, 8],
        "DIFF(a)": [1, 2, 4],
        "RATE(a)": [1 / 60, 2 / 120, 4 / 60],
        "FILL(a, 0)": [1, 2, 0, 4, 8],
        "FILL(a, REPEAT)": [1, 2, 2, 4, 8],
        "FILL(a, LINEAR)": [1, 2, 3, 4, 8],
        "IF(a > 1, a, 0)": [0, 2, 4, 8],
        "IF(a >= 4 AND b == 10, 1)": [1],
        "a ^ 2 - 1": [0, 3, 15, 63],
        "ABS(-a)": [1, 2, 4, 8],
        "RUNNING_SUM(a)": [1, 3, 7, 15],
        "SUM(a) + 0 * a": [15, 15, 15, 15],
    }
    for text, want in cases.items():
        got, _ = _run(svc, t0, [*q, expr("e", text)])
        (vals,) = got.values()
        want_clean = [round(w, 6) for w in want if w is not None]
        assert [v for v in vals if v is not None] == want_clean, text


def test_metrics_function_lists_and_labels(svc, t0):
    _put(svc, "A", t0, [1, 1, 1, 1, 1])
    _put(svc, "B", t0, [2, 2, 2, 2, 2])
    got, page = _run(
        svc,
        t0,
        [
            stat("m1", "A", label="first", return_data=False),
            stat("m2", "B", return_data=False),
            expr("all", "METRICS() * 10"),
            expr("total", "SUM(METRICS())"),
            expr("firsts", 'METRICS("first")'),
        ],
    )
    assert got[("all", "first")] == [10.0] * 5
    assert got[("all", "B")] == [20.0] * 5
    assert got[("total", "total")] == [3.0] * 5
    assert got[("firsts", "first")] == [1.0] * 5
    assert all(r.status == "Complete" for r in page.results)


def test_percentile_stats_and_scan_by_and_paging(svc, t0):
    svc.put_metric_data(
        NS,
        [
            MetricDatum("Lat", [], t0 + dt.timedelta(minutes=m, seconds=s), value=float(s + m))
            for m in range(3)
            for s in range(60)
        ],
    )
    q = [stat("p", "Lat", "p90"), stat("mx", "Lat", "Maximum")]
    page = svc.get_metric_data(q, t0, t0 + dt.timedelta(minutes=3))
    by_id = {r.id: r for r in page.results}
    assert by_id["p"].values == [55.0, 54.0, 53.0]  # descending by default: newest first
    assert by_id["mx"].values == [61.0, 60.0, 59.0]
    assert by_id["p"].timestamps[0] > by_id["p"].timestamps[-1]
    # Paging by datapoints keeps every point exactly once.
    seen: list[tuple[str, float]] = []
    token = None
    for _ in range(10):
        page = svc.get_metric_data(q, t0, t0 + dt.timedelta(minutes=3), max_datapoints=2, next_token=token)
        seen += [(r.id, v) for r in page.results for v in r.values]
        token = page.next_token
        if not token:
            break
    assert sorted(seen) == sorted(
        [("p", 53.0), ("p", 54.0), ("p", 55.0), ("mx", 59.0), ("mx", 60.0), ("mx", 61.0)]
    )


def test_bad_queries(svc, t0):
    end = t0 + dt.timedelta(minutes=5)
    cases = [
        ([stat("M1", "A")], "Id"),
        ([stat("a", "A"), stat("a", "B")], "unique"),
        ([stat("a", "A", period=90)], "Period"),
        ([stat("a", "A", s="p101")], "Stat"),
        ([expr("e", "a +")], "Expression"),
        ([stat("a", "A"), expr("e", "nope * 2")], "unknown metric or expression id 'nope'"),
        ([expr("e", "f"), expr("f", "e")], "cycle"),
        ([stat("a", "A"), expr("e", "FROB(a)")], "unknown function FROB()"),
        ([stat("a", "A", return_data=False)], "ReturnData"),
        ([MetricDataQuery("a")], "MetricStat"),
    ]
    for queries, needle in cases:
        with pytest.raises(Invalid) as e:
            svc.get_metric_data(queries, t0, end)
        assert needle in e.value.message, (needle, e.value.message)


def test_get_metric_data_over_the_wire(live, t0):
    cw = live.boto3_client("cloudwatch")
    cw.put_metric_data(
        Namespace=NS,
        MetricData=[
            {"MetricName": "5XXError", "Value": 3.0, "Timestamp": t0},
            {"MetricName": "RequestCount", "Value": 60.0, "Timestamp": t0},
        ],
    )
    r = cw.get_metric_data(
        StartTime=t0,
        EndTime=t0 + dt.timedelta(minutes=5),
        ScanBy="TimestampAscending",
        MetricDataQueries=[
            {
                "Id": "e",
                "MetricStat": {
                    "Metric": {"Namespace": NS, "MetricName": "5XXError"},
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {
                "Id": "r",
                "MetricStat": {
                    "Metric": {"Namespace": NS, "MetricName": "RequestCount"},
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {"Id": "rate", "Expression": "100 * e / r", "Label": "API error rate"},
        ],
    )
    (res,) = r["MetricDataResults"]
    assert res["Id"] == "rate" and res["Label"] == "API error rate" and res["StatusCode"] == "Complete"
    assert res["Values"] == [5.0] and res["Timestamps"] == [t0]
    with pytest.raises(cw.exceptions.ClientError) as e:
        cw.get_metric_data(
            StartTime=t0,
            EndTime=t0 + dt.timedelta(minutes=5),
            MetricDataQueries=[{"Id": "x", "Expression": "100 * (", "Label": "bad"}],
        )
    assert "column" in e.value.response["Error"]["Message"]


def test_collectors_may_write_reserved_namespaces_doors_may_not(svc, t0):
    elb = "AWS/ApplicationELB"
    with pytest.raises(Invalid) as e:
        svc.put_metric_data(elb, [MetricDatum("5XXError", [], t0, value=1.0)])
    assert to_aws(e.value, "cloudwatch").code == "InvalidParameterValue" and e.value.field == "Namespace"
    svc.put_metric_data(
        elb,
        [MetricDatum("5XXError", [], t0, value=6.0), MetricDatum("RequestCount", [], t0, value=100.0)],
        allow_reserved=True,
    )
    q = [
        MetricDataQuery("e", MetricStatSpec(MetricId(elb, "5XXError"), 300, "Sum"), return_data=False),
        MetricDataQuery("r", MetricStatSpec(MetricId(elb, "RequestCount"), 300, "Sum"), return_data=False),
        expr("rate", "100 * e / r"),
    ]
    page = svc.get_metric_data(q, t0, t0 + dt.timedelta(minutes=5))
    assert [r.values for r in page.results] == [[6.0]]


def test_list_metrics_pages_and_unit_filter(svc, t0):
    svc.put_metric_data(NS, [MetricDatum("Paged", [("Host", f"h{i:02d}")], t0, value=1.0) for i in range(25)])
    seen, token = [], None
    for _ in range(10):
        infos, token = svc.list_metrics(NS, "Paged", next_token=token, limit=10)
        seen += [dict(m.dimensions)["Host"] for m in infos]
        if not token:
            break
    assert seen == [f"h{i:02d}" for i in range(25)]
    with pytest.raises(Invalid) as e:
        svc.list_metrics(NS, next_token="garbage!")
    assert to_aws(e.value, "cloudwatch").code == "InvalidNextToken"
    svc.put_metric_data(NS, [MetricDatum("Mixed", [], t0, value=1.0, unit="Seconds"),
                             MetricDatum("Mixed", [], t0, value=500.0, unit="Milliseconds")])
    m = MetricId(NS, "Mixed")
    _, pts = svc.get_metric_statistics(m, t0, t0 + dt.timedelta(minutes=5), 300, ["Sum"])
    assert sorted((p.unit, p.sum) for p in pts) == [("Milliseconds", 500.0), ("Seconds", 1.0)]
    _, pts = svc.get_metric_statistics(m, t0, t0 + dt.timedelta(minutes=5), 300, ["Sum"], unit="Seconds")
    assert [(p.unit, p.sum) for p in pts] == [("Seconds", 1.0)]


def test_search_expression(svc, t0):
    svc.put_metric_data(NS, [MetricDatum("RequestCount", [("Service", s)], t0, value=v)
                             for s, v in (("api", 10.0), ("worker", 5.0), ("frontend", 1.0))])
    svc.put_metric_data(NS, [MetricDatum("RequestCount", [("Service", "api"), ("Path", "/x")], t0, value=100.0),
                             MetricDatum("TenantCreated", [], t0, value=1.0)])
    got, _ = _run(svc, t0, [expr("s", "SEARCH('{UTM/Application,Service} MetricName=\"RequestCount\"', 'Sum', 300)")])
    assert got == {("s", "api"): [10.0], ("s", "frontend"): [1.0], ("s", "worker"): [5.0]}
    got, _ = _run(svc, t0, [expr("s", "SUM(SEARCH('{UTM/Application,Service} NOT frontend', 'Sum', 300))",
                                 label="total")])
    assert got == {("s", "total"): [15.0]}
    got, _ = _run(svc, t0, [expr("s", "SEARCH('Namespace=\"UTM/Application\" tenant', 'SampleCount', 300)")])
    assert got == {("s", "TenantCreated"): [1.0]}
    got, _ = _run(svc, t0, [expr("s", "SEARCH('{UTM/Application,Nope}', 'Sum', 300)"), stat("a", "TenantCreated")])
    assert ("s", "s") not in got and got[("a", "TenantCreated")] == [1.0]
    with pytest.raises(Invalid) as e:
        svc.get_metric_data([expr("s", "SEARCH('x', 'Sum', 7)")], t0, t0 + dt.timedelta(minutes=5))
    assert "SEARCH" in e.value.message


def test_statistics_batch_survives_a_bad_query(svc, t0):
    from rexwatch.services.metrics import StatQuery

    svc.put_metric_data(NS, [MetricDatum("CPUUtilization", [("ServiceName", "utm-api")], t0, value=v)
                             for v in (70.0, 90.0)])
    dims = (("ServiceName", "utm-api"),)
    got = svc.get_statistics_batch([
        StatQuery("avg", NS, "CPUUtilization", dims, "Average", 300),
        StatQuery("bad-stat", NS, "CPUUtilization", dims, "tm99", 300),
        StatQuery("bad-period", NS, "CPUUtilization", dims, "Average", 7),
        StatQuery("p", NS, "CPUUtilization", dims, "p50", 60),
        StatQuery("none", NS, "CPUUtilization", (("ServiceName", "other"),), "Sum", 300),
    ], t0 - dt.timedelta(minutes=10), t0 + dt.timedelta(minutes=10))
    bucket = dt.datetime.fromtimestamp(int(t0.timestamp()) // 300 * 300, dt.UTC)
    assert got["avg"] == [(bucket, 80.0)]
    assert got["p"] == [(t0, 70.0)]
    assert got["bad-stat"] == [] and got["bad-period"] == [] and got["none"] == []


def test_dynamic_labels(svc, t0):
    _put(svc, "RequestCount", t0, [1, 2, 3], dims=[("Service", "api")])
    page = svc.get_metric_data([
        MetricDataQuery("r", MetricStatSpec(MetricId(NS, "RequestCount", (("Service", "api"),)), 60, "Sum"),
                        label="${PROP('Dim.Service')} ${PROP('MetricName')} max ${MAX} of ${LABEL}"),
        expr("e", "r * 2", label="doubled (${SUM})"),
    ], t0, t0 + dt.timedelta(minutes=3))
    assert [r.label for r in page.results] == ["api RequestCount max 3 of RequestCount", "doubled (12)"]


def test_deep_expressions_are_clear_errors(svc, t0):
    """Nested parentheses and long operator chains are refused at parse time, never a RecursionError."""
    for text, fragment in [
        ("(" * 4999 + "m" + ")" * 4999, "nesting is deeper than 50 levels"),
        ("+".join(["1"] * 5000), "nests more than 200 levels"),
        ("-" * 5000 + "1", "nesting is deeper"),
        ("2^" * 3000 + "2", "nesting is deeper"),
        ("1e999 + 1", "out of range"),
    ]:
        with pytest.raises(QueryError) as e:
            parse(text)
        assert fragment in e.value.detail, text[:20]
    # A chain just under the bound still evaluates (the evaluator's recursion has room for it).
    _put(svc, "A", t0, [1, 2, 3, 4, 5])
    got, _ = _run(svc, t0, [stat("a", "A", return_data=False), expr("e", "+".join(["a"] * 199))])
    assert list(got.values()) == [[199.0, 398.0, 597.0, 796.0, 995.0]]
    with pytest.raises(Invalid) as e:
        _run(svc, t0, [stat("a", "A", return_data=False), expr("e", "(" * 3000 + "a" + ")" * 3000)])
    assert to_aws(e.value, "cloudwatch").status == 400 and "nesting is deeper" in e.value.message

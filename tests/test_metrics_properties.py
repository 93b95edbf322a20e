"""Every statistic against a plain Python reference on random datapoints, raw and rolled up.

Percentiles from raw points are exact (nearest rank); from rollups they are within the documented
relative bound (``ROLLUP_PERCENTILE_ERROR`` = 2^-7: values kept to 8 significant bits).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rexwatch.services.metrics import MetricDatum, MetricId, MetricsService, StatisticSet, StatQuery
from rexwatch.services.metrics.model import ROLLUP_PERCENTILE_ERROR

NS = "Prop/Test"
LEVELS = {"p0": 0.0, "p10": 0.1, "p50": 0.5, "p90": 0.9, "p99": 0.99, "p99.9": 0.999, "p100": 1.0}

values = st.one_of(
    st.integers(-1000, 1000).map(float),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).filter(lambda x: x == 0 or abs(x) > 1e-6),
)
item = st.tuples(
    st.integers(0, 2 * 3600 - 1),  # seconds after the base time
    st.one_of(
        values.map(lambda v: ([v], [1])),
        st.lists(st.tuples(values, st.integers(1, 5)), min_size=1, max_size=4).map(
            lambda pairs: ([p[0] for p in pairs], [p[1] for p in pairs])
        ),
        # A statistic set: (SampleCount, Sum, Minimum, Maximum), no distribution.
        st.tuples(st.integers(1, 20), values, values).map(
            lambda t: ("set", (float(t[0]), min(t[1], t[2]) * t[0], min(t[1], t[2]), max(t[1], t[2])))
        ),
    ),
)
SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _reference(points, period):
    buckets = defaultdict(list)
    sets = defaultdict(list)
    for ts, vals, counts in points:
        b = int(ts.timestamp()) // period * period
        if vals == "set":
            sets[b].append(counts)
            continue
        for v, c in zip(vals, counts, strict=True):
            buckets[b].extend([v] * c)
    out = {}
    for b in buckets.keys() | sets.keys():
        xs = sorted(buckets.get(b, []))
        ss = sets.get(b, [])
        n = len(xs) + sum(x[0] for x in ss)
        total = math.fsum(xs + [x[1] for x in ss])
        ref = {
            "SampleCount": float(n),
            "Sum": total,
            "Minimum": min(xs[:1] + [x[2] for x in ss]),
            "Maximum": max(xs[-1:] + [x[3] for x in ss]),
            "Average": total / n,
        }
        # Percentiles come from values only; a period of statistic sets alone has none.
        for name, q in LEVELS.items():
            if xs:
                ref[name] = xs[max(1, math.ceil(q * len(xs))) - 1]
        out[b] = ref
    return out


def _check(svc, base, points, period, exact_percentiles):
    name = f"m{uuid.uuid4().hex[:8]}"
    svc.put_metric_data(
        NS,
        [
            MetricDatum(name, [("k", "v")], ts, statistic_values=StatisticSet(*counts))
            if vals == "set"
            else MetricDatum(name, [("k", "v")], ts, values=vals, counts=[float(c) for c in counts])
            for ts, vals, counts in points
        ],
    )
    start, end = base, base + dt.timedelta(hours=2)
    ref = _reference(points, period)
    stats = ["SampleCount", "Sum", "Minimum", "Maximum", "Average", *LEVELS]
    got = svc.get_statistics_batch(
        [StatQuery(s, NS, name, (("k", "v"),), s, period) for s in stats], start, end
    )
    for s in stats:
        series = {int(t.timestamp()): v for t, v in got[s]}
        assert set(series) == {b for b, r in ref.items() if s in r}, s
        for b, v in series.items():
            want = ref[b][s]
            if s in LEVELS and not exact_percentiles:
                assert abs(v - want) <= ROLLUP_PERCENTILE_ERROR * abs(want) + 1e-9, (s, v, want)
            elif s in ("Sum", "Average"):
                assert v == pytest.approx(want, rel=1e-9, abs=1e-3), (s, v, want)
            else:
                assert v == want, (s, v, want)
    # GetMetricStatistics answers the same numbers in AWS shape.
    label, dps = svc.get_metric_statistics(
        MetricId(NS, name, (("k", "v"),)), start, end, period, ["SampleCount", "Maximum"], ["p50"]
    )
    assert label == name
    assert {int(d.timestamp.timestamp()): d.sample_count for d in dps} == {
        b: r["SampleCount"] for b, r in ref.items()
    }


@pytest.fixture
def svc(runtime):
    return runtime.service(MetricsService)


@given(st.lists(item, min_size=1, max_size=60))
@SETTINGS
def test_raw_statistics_match_reference(svc, items):
    # A range starting within the last three hours reads raw points: percentiles are exact.
    now = dt.datetime.now(dt.UTC)
    base = dt.datetime.fromtimestamp(
        int((now - dt.timedelta(hours=2, minutes=50)).timestamp()) // 600 * 600, dt.UTC
    )
    points = [(base + dt.timedelta(seconds=off), vals, counts) for off, (vals, counts) in items]
    _check(svc, base, points, 600, exact_percentiles=True)


@pytest.mark.parametrize("period", [60, 300, 3600])
@given(items=st.lists(item, min_size=1, max_size=60))
@SETTINGS
def test_rollup_statistics_match_reference(svc, period, items):
    # Two days back every period reads a rollup tier (1 minute, 5 minutes, 1 hour).
    now = dt.datetime.now(dt.UTC)
    base = dt.datetime.fromtimestamp(int((now - dt.timedelta(days=2)).timestamp()) // 3600 * 3600, dt.UTC)
    points = [(base + dt.timedelta(seconds=off), vals, counts) for off, (vals, counts) in items]
    _check(svc, base, points, period, exact_percentiles=False)


def test_tier_choice():
    from rexwatch.services.metrics.rules import H1, M1, M5, RAW, choose_tier

    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    assert choose_tier(now - dt.timedelta(hours=1), 60, now) is RAW
    assert choose_tier(now - dt.timedelta(days=1), 10, now) is RAW
    assert choose_tier(now - dt.timedelta(days=1), 60, now) is M1
    assert choose_tier(now - dt.timedelta(days=1), 600, now) is M5
    assert choose_tier(now - dt.timedelta(days=1), 7200, now) is H1
    assert choose_tier(now - dt.timedelta(days=30), 300, now) is M5
    assert choose_tier(now - dt.timedelta(days=100), 300, now) is M1  # expired: like CloudWatch, no data
    assert choose_tier(now - dt.timedelta(days=100), 3600, now) is H1


series_values = st.lists(st.one_of(st.none(), st.integers(-50, 50).map(float)), min_size=1, max_size=12)


@given(a=series_values, b=series_values, op=st.sampled_from(["+", "-", "*", "/"]))
@settings(max_examples=200, deadline=None)
def test_metric_math_alignment_matches_a_reference(a, b, op):
    """Binary operators on series with gaps and different lengths, against a dict-based reference."""
    import numpy as np

    from rexwatch.lang.mathexpr import parse
    from rexwatch.services.metrics.matheval import Evaluator, Series

    def series(vals, offset):
        t = np.arange(len(vals), dtype=np.int64) * 60 + offset * 60
        return Series(t, np.array([np.nan if v is None else v for v in vals]), "s")

    sa, sb = series(a, 0), series(b, 2)
    got = Evaluator(f"a {op} b", lambda n, p: {"a": sa, "b": sb}[n], lambda: [sa, sb]).eval(parse(f"a {op} b"))
    got_map = {int(t): v for t, v in zip(got.t, got.v, strict=True) if not np.isnan(v)}
    ref = {}
    da = {i * 60: v for i, v in enumerate(a) if v is not None}
    db = {(i + 2) * 60: v for i, v in enumerate(b) if v is not None}
    for t in da.keys() & db.keys():
        x, y = da[t], db[t]
        if op == "/" and y == 0:
            continue
        ref[t] = {"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else 0}[op]
    assert got_map == pytest.approx(ref)

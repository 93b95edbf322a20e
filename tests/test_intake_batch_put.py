"""The columnar batch put keeps PutMetricData's rules: same rows, same first error, same message."""

from __future__ import annotations

import datetime as dt

import pytest

from rexwatch.errors import Invalid
from rexwatch.services.metrics import MetricColumns, MetricDatum
from rexwatch.services.metrics.put import build_columns, build_points, build_points_per_datum

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def columns(data: list[MetricDatum], *, with_values: bool) -> MetricColumns:
    """The datums as columns, sharing one dimension list per distinct set as the intake doors do."""
    shared: dict[tuple, list] = {}
    values, counts, offsets = [], [], [0]
    for d in data:
        if with_values:
            vs = d.values if d.values is not None else [d.value]
            values.extend(vs)
            counts.extend(d.counts if d.counts is not None else [1.0] * len(vs))
            offsets.append(len(values))
        else:
            values.append(d.value)
    return MetricColumns(
        metric_names=[d.metric_name for d in data],
        dimensions=[shared.setdefault(tuple(d.dimensions), list(d.dimensions)) for d in data],
        timestamps_ms=[int((d.timestamp or NOW).timestamp() * 1000) for d in data],
        units=[d.unit for d in data],
        values=values,
        counts=counts if with_values else None,
        offsets=offsets if with_values else None,
        storage_resolutions=[d.storage_resolution or 60 for d in data],
        single_values=[d.value is not None for d in data] if with_values else None,
    )


def valid() -> list[MetricDatum]:
    t = NOW - dt.timedelta(minutes=5)
    return [
        MetricDatum("Latency", [("svc", "a"), ("route", "/x")], t, value=12.5, unit="Milliseconds"),
        MetricDatum("Latency", [("svc", "a"), ("route", "/x")], t, values=[1.0, 2.0, 3.0], counts=[1, 0, 4],
                    unit="Milliseconds"),
        MetricDatum("Errors", [], NOW, value=0.0, storage_resolution=1),
        MetricDatum("Depth", [("q", "jobs")], t - dt.timedelta(hours=1), values=[7.0], unit="Count"),
    ]


def test_valid_batches_give_the_same_rows():
    data = valid()
    want = build_points_per_datum("App", data, NOW).to_pylist()
    assert build_columns("App", columns(data, with_values=True), NOW).to_pylist() == want
    assert build_points("App", data, NOW).to_pylist() == want  # PutMetricData takes the columnar path
    singles = [d for d in data if d.value is not None]
    assert build_columns("App", columns(singles, with_values=False), NOW).to_pylist() == \
        build_points_per_datum("App", singles, NOW).to_pylist()


def _break(i: int, **change) -> list[MetricDatum]:
    data = valid()
    for k, v in change.items():
        setattr(data[i], k, v)
    return data


CASES = [
    _break(0, metric_name=""),
    _break(2, metric_name="m" * 256),
    _break(1, dimensions=[("svc", "a"), ("svc", "b")]),
    _break(3, dimensions=[(":x", "a")]),
    _break(3, dimensions=[("k", "")]),
    _break(0, unit="Furlongs"),
    _break(2, storage_resolution=5),
    _break(3, timestamp=NOW - dt.timedelta(days=15)),
    _break(2, timestamp=NOW + dt.timedelta(hours=3)),
    [_break(0, value=float("nan"))[0], valid()[2]],
    [valid()[0], _break(2, value=2.0**400)[2]],
    _break(0, value=float("-inf")),  # a single Value among Values datums is still named Value
    _break(1, values=[1.0, float("inf"), 3.0]),
    _break(1, counts=[1, -2, 4]),
    _break(1, counts=[1, 2, float("nan")]),
    _break(1, values=[], counts=None),
    _break(1, values=[1.0] * 151, counts=None),
    # Two faults: the first datum's is reported, and within a datum the first rule checked.
    [*_break(1, unit="Furlongs", metric_name="")[:2], *_break(3, metric_name="")[2:]],
    _break(0, unit="Furlongs", timestamp=NOW - dt.timedelta(days=20), value=float("nan"))[:1],
]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_invalid_batches_raise_the_same_first_error(data):
    with pytest.raises(Invalid) as want:
        build_points_per_datum("App", data, NOW)
    with pytest.raises(Invalid) as dispatched:  # PutMetricData: columns when it can, else per datum
        build_points("App", data, NOW)
    assert (type(dispatched.value), dispatched.value.message, dispatched.value.field) == \
        (type(want.value), want.value.message, want.value.field)
    with pytest.raises(Invalid) as got:
        # Batches of single Values use the one-value-per-datum form, so errors name "Value".
        build_columns("App", columns(data, with_values=any(d.values is not None for d in data)), NOW)
    assert (type(got.value), got.value.message, got.value.field) == \
        (type(want.value), want.value.message, want.value.field)


@pytest.mark.parametrize("data", [_break(2, value=True), _break(1, values=[1.0, "2"]), _break(1, counts=[1, 2]),
                                  _break(0, values=[1.0])], ids=range(4))
def test_datums_columns_cannot_hold_take_the_per_datum_path(data):
    """Non-numbers, mismatched Counts and conflicting members: PutMetricData's messages, unchanged."""
    with pytest.raises(Invalid) as want:
        build_points_per_datum("App", data, NOW)
    with pytest.raises(Invalid) as got:
        build_points("App", data, NOW)
    assert (type(got.value), got.value.message, got.value.field) == \
        (type(want.value), want.value.message, want.value.field)


def test_namespace_and_size_rules_hold():
    with pytest.raises(Invalid, match="reserved"):
        build_columns("AWS/EC2", columns(valid(), with_values=True), NOW)
    many = [MetricDatum("M", [], NOW, value=1.0)] * 1001
    with pytest.raises(Invalid, match="at most 1000"):
        build_columns("App", columns(many, with_values=False), NOW)
    assert build_columns("App", columns(many, with_values=False), NOW, max_items=None).num_rows == 1001


def test_checked_dimension_sets_are_remembered_within_a_bound(monkeypatch):
    from rexwatch.services.metrics import put

    monkeypatch.setattr(put, "CHECKED_CACHE", 2)
    monkeypatch.setattr(put, "_CHECKED", {})
    good = MetricDatum(metric_name="m", dimensions=[("b", "2"), ("a", "1")], value=1.0)
    bad = MetricDatum(metric_name="m", dimensions=[("a", "1"), ("a", "2")], value=1.0)
    for _ in range(2):
        rows = build_columns("ns", columns([good], with_values=False), NOW)
        assert rows.column("dims").to_pylist() == ['{"a":"1","b":"2"}']
        # A failing set is never remembered: it fails again, with the same message.
        with pytest.raises(Invalid) as e:
            build_columns("ns", columns([good, bad], with_values=False), NOW)
        assert "more than one dimension named a" in e.value.message
    for i in range(3):
        build_columns("ns", columns([MetricDatum(metric_name="m", dimensions=[("k", str(i))], value=1.0)],
                                    with_values=False), NOW)
    assert len(put._CHECKED) <= 2  # cleared at the bound, then refilled

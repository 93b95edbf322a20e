"""PutMetricData's readers for the query form and CBOR give the generic codecs' parameters, or hand back."""

from __future__ import annotations

import datetime as dt
import random
from urllib.parse import urlencode

import pytest
from botocore.serialize import create_serializer
from hypothesis import given, settings
from hypothesis import strategies as st

from rexwatch.aws.cloudwatch import _columns
from rexwatch.aws.door import service_model
from rexwatch.aws.errors import AwsError
from rexwatch.aws.protocols import cbor, cbor_metricdata, query, query_metricdata
from rexwatch.aws.validate import ColumnarParams

OP = service_model("cloudwatch").operation_model("PutMetricData")
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def generic(text: str):
    """The generic codec's reading, or its error."""
    try:
        return query._decode_structure(OP.input_shape, "", query.form_tree(text), "monitoring")
    except AwsError as e:
        return (e.code, e.message)


def botocore_form(params: dict) -> str:
    """The form boto3 and the AWS CLI send in the query protocol, built by botocore's own serializer."""
    body = create_serializer("query").serialize_to_request(params, OP)["body"]
    return body if isinstance(body, str) else urlencode(body)


def datum(rnd: random.Random, i: int, with_dims: int, kinds: str) -> dict:
    d: dict = {"MetricName": rnd.choice(["Latency", "Errors", "a b+c%/é", "x" * 10]) + str(i % 3)}
    if with_dims:
        d["Dimensions"] = [
            {"Name": f"D{j}", "Value": rnd.choice(["prod", "i-01", "a=b&c", "ü x"])} for j in range(with_dims)
        ]
    if "t" in kinds:
        d["Timestamp"] = NOW - dt.timedelta(seconds=rnd.randrange(3600))
    if "v" in kinds:
        d["Value"] = rnd.choice([0.0, 1.5, -2e-3, 1e10, 7.0])
    if "l" in kinds:
        d["Values"] = [1.0, 2.5, 3e3]
        d["Counts"] = [1.0, 0.0, 4.0]
    if "u" in kinds:
        d["Unit"] = rnd.choice(["Milliseconds", "Count", "Bytes/Second"])
    if "r" in kinds:
        d["StorageResolution"] = rnd.choice([1, 60])
    return d


@pytest.mark.parametrize("kinds", ["tvu", "v", "tvur", "tlu", "lr"])
@pytest.mark.parametrize("with_dims", [0, 1, 3])
@pytest.mark.parametrize("items", [1, 2, 37, 1000])
def test_sdk_forms_read_the_same(kinds: str, with_dims: int, items: int):
    rnd = random.Random(f"{kinds}{with_dims}{items}")
    text = botocore_form(
        {"Namespace": "App/x y", "MetricData": [datum(rnd, i, with_dims, kinds) for i in range(items)]}
    )
    fast = query_metricdata.read(text)
    assert fast is not None
    assert fast == generic(text)
    decoded = query.decode(text.encode(), {}, OP)
    assert isinstance(decoded, ColumnarParams)
    assert decoded.materialize() == fast
    # The columns handed to the metrics service are the handler's columns of the decoded items.
    assert decoded.columns(NOW) == _columns(fast["MetricData"], NOW)


def test_namespace_may_come_last_and_items_in_any_member_order():
    items = "&".join(
        f"MetricData.member.{i}.Value={i}&MetricData.member.{i}.MetricName=m" for i in range(1, 4)
    )
    text = f"Action=PutMetricData&Version=2010-08-01&{items}&Namespace=App"
    assert query_metricdata.read(text) == generic(text)
    assert query_metricdata.read(text)["MetricData"][2] == {"MetricName": "m", "Value": 3.0}


BASE = (
    "Action=PutMetricData&Version=2010-08-01&Namespace=App&MetricData.member.1.MetricName=m"
    "&MetricData.member.1.Value=1&MetricData.member.2.MetricName=m&MetricData.member.2.Value=2"
)


@pytest.mark.parametrize(
    "text",
    [
        BASE.replace("member.2.Value=2", "member.2.Value=x"),  # not a number: the codec names it
        BASE.replace("member.2.", "member.3."),  # a gap: the codec stops at it
        BASE.replace("member.2.", "member.02."),
        BASE + "&MetricData.member.2.Value=3",  # a repeated key: the last wins
        BASE + "&MetricData.member.1.Dimensions.member.1.Name=a",  # a dimension without its Value
        BASE + "&MetricData.member.1.StatisticValues.Sum=1",
        BASE + "&EntityMetricData.member.1.MetricData.member.1.MetricName=x",
        BASE + "&StrictEntityValidation=true",
        BASE + "&",
        BASE + "&Foo",
        BASE + "&MetricData.member.1.Unknown=1",
        BASE.replace("Namespace=App&", ""),
        BASE.replace("MetricData.member.1.MetricName=m&", ""),  # items listing different fields
        BASE.replace("Value=1", "Value=1=2"),
        BASE.replace("MetricData.member.1.Value", "MetricData.member.1.Val%75e"),  # escaped keys
        BASE.replace("Namespace", "Name%73pace"),
        BASE.replace("Value=1", "Timestamp=1e20"),
    ],
)
def test_forms_it_cannot_read_exactly_go_to_the_generic_codec(text: str):
    assert query_metricdata.read(text) is None
    want = generic(text)
    try:
        got = query.decode(text.encode(), {}, OP)
    except AwsError as e:
        got = (e.code, e.message)
    assert not isinstance(got, ColumnarParams)
    assert got == want


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "&",
                "=",
                ".",
                "1",
                "2",
                "member",
                "MetricData",
                "Value",
                "Name",
                "%2",
                "+",
                "Dimensions",
                "Namespace",
                "MetricName",
                "Values",
                "Counts",
                "x",
                "",
            ]
        ),
        max_size=40,
    )
)
def test_any_form_reads_the_same_or_goes_back(pieces: list[str]):
    text = BASE + "".join(pieces)
    fast = query_metricdata.read(text)
    if fast is not None:
        assert fast == generic(text)
        decoded = query_metricdata.read_columns(text)
        assert decoded is not None and decoded.materialize() == fast
        assert decoded.columns(NOW) == _columns(fast["MetricData"], NOW)


# ---- CBOR ---------------------------------------------------------------------------------------


def cbor_generic(body: bytes):
    """The generic walk and the type check, or their error."""
    import cbor2

    from rexwatch.aws import validate

    try:
        params = cbor._inbound(cbor2.loads(body), OP.input_shape)
        validate.check(params, OP.input_shape)
        return params
    except AwsError as e:
        return (e.code, e.message)


def cbor_door(body: bytes):
    """What the door hands the handler: the codec's reading, type-checked."""
    from rexwatch.aws import validate

    try:
        params = cbor.decode(body, {}, OP)
        validate.check(params, OP.input_shape)
    except AwsError as e:
        return (e.code, e.message)
    if isinstance(params, ColumnarParams):
        # The columns handed to the metrics service are the handler's columns of the items.
        items = params.materialize()
        cols = params.columns(NOW)
        if cols is not None:  # None: the handler builds the columns from the items
            assert cols == _columns(items["MetricData"], NOW)
        return items
    return params


@pytest.mark.parametrize("kinds", ["tvu", "v", "tvur", "tlu", "lr"])
@pytest.mark.parametrize("with_dims", [0, 2])
@pytest.mark.parametrize("items", [1, 1000])
def test_sdk_cbor_bodies_read_the_same(kinds: str, with_dims: int, items: int):
    rnd = random.Random(f"{kinds}{with_dims}{items}")
    params = {"Namespace": "App", "MetricData": [datum(rnd, i, with_dims, kinds) for i in range(items)]}
    body = create_serializer("smithy-rpc-v2-cbor").serialize_to_request(params, OP)["body"]
    import cbor2

    assert cbor_metricdata.convert(cbor2.loads(body)) is not None
    decoded = cbor.decode(body, {}, OP)
    assert isinstance(decoded, ColumnarParams)
    assert decoded.columns(NOW) is not None
    assert cbor_door(body) == cbor_generic(body)


@pytest.mark.parametrize(
    "item",
    [
        {"MetricName": "m", "Value": 3},  # an integer: a float after both
        {"MetricName": "m", "Value": "NaN", "Values": [1, 2.5, "Infinity"], "Counts": [1, 2, 3]},
        {"MetricName": "m", "Timestamp": 1780311600},  # epoch seconds without the tag
        {"MetricName": "m", "Timestamp": 1780311600.5, "StorageResolution": 1},
        {"MetricName": "m", "Timestamp": 1e20},
        {"MetricName": "m", "Timestamp": "2026-06-01"},
        {"MetricName": "m", "Timestamp": True},
        {"MetricName": "m", "Value": True},
        {"MetricName": "m", "Value": "1.5"},
        {"MetricName": "m", "Value": None},
        {"MetricName": 5, "Value": 1.0},
        {"MetricName": "m", "Values": [1.0, "x"]},
        {"MetricName": "m", "Values": 1.0},
        {"MetricName": "m", "StorageResolution": 1.0},
        {"MetricName": "m", "StorageResolution": False},
        {"MetricName": "m", "Dimensions": [{"Name": "a", "Value": 1}]},
        {"MetricName": "m", "Dimensions": [{"Name": "a", "Value": None}]},
        {"MetricName": "m", "Dimensions": [{"Name": "a", "Other": "b"}]},
        {"MetricName": "m", "Dimensions": ["a"]},
        {"MetricName": "m", "Dimensions": {"Name": "a"}},
        {"MetricName": "m", "StatisticValues": {"SampleCount": 1, "Sum": 2, "Minimum": 1, "Maximum": 1}},
        {"MetricName": "m", "Unknown": 1},
        "not an item",
        # Plain items the columns take, and items only the handler's per-item path takes.
        {
            "MetricName": "m",
            "Values": [1, 2.5],
            "Counts": [1, 2],
            "Dimensions": [{"Name": "a", "Value": "b"}],
        },
        {"MetricName": "m", "Values": [], "Counts": []},
        {"MetricName": "m", "Values": [1.0], "Counts": []},
        {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": "", "Value": "x"}]},
        {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": "a", "Value": ""}]},
        {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": "a"}]},
        {"MetricName": "m", "Value": 1.0, "StorageResolution": 5},
        {"MetricName": "m", "Value": 1.0, "Timestamp": 1_000_000_000},
        {"Value": 1.0, "Unit": "Count"},
        # The field-by-field check: an unknown member beside a null one; dimension counts that differ.
        {"MetricName": "m", "Value": None, "Unknown": 1.0},
        {"MetricName": "m", "Value": 1.0, "Dimensions": []},
        {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": "a", "Value": "b"}, {"Name": "c", "Value": "d"}]},
        {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": "a", "Value": "b", "Other": "c"}]},
    ],
)
def test_cbor_items_convert_and_fail_as_the_generic_walk(item):
    import cbor2

    good = {"MetricName": "ok", "Value": 1.0, "Timestamp": cbor2.CBORTag(1, 1780311600)}
    body = cbor2.dumps({"Namespace": "App", "MetricData": [good, item, good]})
    assert cbor_door(body) == cbor_generic(body)
    dimensioned = {**good, "Dimensions": [{"Name": "host", "Value": "h1"}]}
    body = cbor2.dumps({"Namespace": "App", "MetricData": [dimensioned, item, dimensioned]})
    assert cbor_door(body) == cbor_generic(body)


@pytest.mark.parametrize(
    "top",
    [
        {"Namespace": 1, "MetricData": []},
        {"MetricData": []},
        {"Namespace": "App", "MetricData": {}},
        {"Namespace": "App", "MetricData": [], "StrictEntityValidation": True},
        {"Namespace": "App", "MetricData": [], "EntityMetricData": [{"MetricData": [{"MetricName": "m"}]}]},
    ],
)
def test_cbor_top_level_as_the_generic_walk(top):
    import cbor2

    body = cbor2.dumps(top)
    assert cbor_door(body) == cbor_generic(body)


# ---- the handler's columns ----------------------------------------------------------------------


def _put(build, *args):
    from rexwatch.errors import RexwatchError

    try:
        return build(*args).to_pylist()
    except RexwatchError as e:
        return (type(e).__name__, e.render())


GOOD = {
    "MetricName": "Latency",
    "Dimensions": [{"Name": "svc", "Value": "a"}],
    "Timestamp": NOW,
    "Value": 1.5,
    "Unit": "Milliseconds",
}


@pytest.mark.parametrize(
    "item",
    [
        GOOD,
        {"MetricName": "m", "Values": [1.0, 2, 3.5], "Counts": [1, 0, 2.0], "StorageResolution": 1},
        {"MetricName": "m", "Values": [1.0, 2.0]},
        {"MetricName": "m", "Value": 2},
        {"MetricName": "", "Value": 1.0},
        {"MetricName": "x" * 300, "Value": 1.0},
        {"MetricName": "m", "Value": 1.0, "Unit": "Parsecs"},
        {"MetricName": "m", "Value": 1.0, "StorageResolution": 5},
        {"MetricName": "m", "Value": float("nan")},
        {"MetricName": "m", "Value": 1e200},
        {"MetricName": "m", "Value": 1.0, "Values": [1.0]},
        {"MetricName": "m", "Counts": [1.0]},
        {"MetricName": "m"},
        {"MetricName": "m", "Values": [1.0], "Counts": [1.0, 2.0]},
        {"MetricName": "m", "Values": [1.0], "Counts": [-1.0]},
        {"MetricName": "m", "Values": []},
        {"MetricName": "m", "Value": 1.0, "Timestamp": NOW - dt.timedelta(days=15)},
        {"MetricName": "m", "Value": 1.0, "Timestamp": NOW + dt.timedelta(hours=3, microseconds=7)},
        {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": "a", "Value": ""}]},
        {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": "a"}]},
        {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Value": "a"}]},
        {
            "MetricName": "m",
            "Value": 1.0,
            "Dimensions": [{"Name": "a", "Value": "1"}, {"Name": "a", "Value": "2"}],
        },
        {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(31)]},
        {
            "MetricName": "m",
            "StatisticValues": {"SampleCount": 2.0, "Sum": 3.0, "Minimum": 1.0, "Maximum": 2.0},
        },
        {"MetricName": "m", "StatisticValues": {"SampleCount": 2.0, "Sum": 3.0, "Minimum": 1.0}},
    ],
)
def test_handler_columns_store_and_fail_as_per_item(item):
    from rexwatch.aws.cloudwatch import _columns, _datum
    from rexwatch.services.metrics.put import build_columns, build_points

    items = [GOOD, item, GOOD]
    try:
        data = [_datum(it, i, {}) for i, it in enumerate(items, 1)]
    except Exception as e:  # the handler's own checks (a dimension without its name or value)
        assert _columns(items, NOW) is None, e
        return
    want = _put(build_points, "App", data, NOW)
    cols = _columns(items, NOW)
    if cols is not None:
        assert _put(build_columns, "App", cols, NOW) == want


def test_a_hostile_layout_costs_in_proportion_to_the_form():
    """One item with 20,000 fields is read against 20,000 expected keys, not 1,000 items' worth."""
    fields = "&".join(f"MetricData.member.1.Values.member.{j}=1" for j in range(1, 20_001))
    text = f"Action=PutMetricData&Version=2010-08-01&Namespace=App&MetricData.member.1.MetricName=m&{fields}"
    params = query_metricdata.read(text)
    assert params is not None and len(params["MetricData"][0]["Values"]) == 20_000
    assert params == generic(text)
    assert all(len(keys) <= 16 * 1000 for keys in query_metricdata._LAYOUTS.values())


@pytest.mark.parametrize(
    "field, value",
    [
        ("timestamps", [["not", "hashable"]]),
        ("resolutions", [[60]]),
        ("dimensions", [[["a", "b"]]]),  # pairs as lists: unhashable
        ("dimensions", [None]),
        ("values", [True]),
        ("names", [b"m"]),
    ],
)
def test_the_column_builder_leaves_odd_fields_to_the_per_datum_path(field, value):
    from rexwatch.services.metrics.put import columns

    fields = {"names": ["m"], "dimensions": [()], "timestamps": [None], "values": [1.0], "lists": [None],
              "counts": [None], "units": [None], "resolutions": [None], "statistics": [None]}
    assert columns(*fields.values(), now=NOW) is not None
    fields[field] = value
    assert columns(*fields.values(), now=NOW) is None

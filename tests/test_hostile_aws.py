"""Hostile input to every AWS operation rexwatch implements, through real botocore serialisation.

For each (service, operation) in the handler registry, hypothesis builds requests from the
operation's botocore input shape (tests/hostile.py) and boto3 sends them to a live server:
Logs over JSON 1.1, SNS over query, CloudWatch over each protocol botocore can speak to it
(smithy RPC v2 CBOR, JSON 1.0, query). Whatever comes back must be a success or a client error
(4xx) carrying an AWS error code that the service documents or that AWS documents as common.
Raw malformed bodies (not JSON, wrong types, truncated CBOR, broken forms) go to the door over
httpx with the same rule.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from typing import Any

import botocore.exceptions
import botocore.model
import cbor2
import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hostile import awkward_text, hostile_settings, recent_times, request_strategy
from rexwatch.aws import SERVICE_MODULES
from rexwatch.aws.registry import HANDLERS
from rexwatch.testing import LiveServer, make_runtime

for _module in SERVICE_MODULES:
    importlib.import_module(_module)

# Codes AWS documents for every service ("Common Errors") or that its JSON/CBOR front ends send.
COMMON_CODES = {
    "AccessDeniedException", "IncompleteSignature", "InvalidAction", "InvalidClientTokenId",
    "InvalidParameterCombination", "InvalidParameterValue", "InvalidQueryParameter", "MalformedQueryString",
    "MissingAction", "MissingAuthenticationToken", "MissingParameter", "NotAuthorized", "RequestExpired",
    "ThrottlingException", "ValidationError", "ValidationException", "SerializationException",
    "UnrecognizedClientException", "UnknownOperationException", "InvalidSignatureException",
    "RequestEntityTooLarge", "InvalidNextToken", "InvalidNextTokenException",
}
CW_PROTOCOLS = ["smithy-rpc-v2-cbor", "json", "query"]
SEED_GROUP, SEED_STREAM = "/hostile/seed", "seed-stream"
SEED_NS, SEED_METRIC, SEED_ALARM = "Hostile/Seed", "SeedMetric", "seed-alarm"


def service_codes(client: Any) -> set[str]:
    model = client.meta.service_model
    codes = {s.metadata.get("error", {}).get("code", s.name) for s in model.error_shapes}
    return codes | {s.name for s in model.error_shapes} | COMMON_CODES


def _client(server: LiveServer, service: str, protocol: str | None = None) -> Any:
    from botocore.config import Config

    saved = botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS
    if protocol:
        botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = (protocol, *[p for p in saved if p != protocol])
    try:
        import boto3

        # parameter_validation off: the server, not botocore, must refuse what is out of bounds.
        client = boto3.client(service, endpoint_url=server.url, region_name=server.runtime.settings.region,
                              aws_access_key_id="test", aws_secret_access_key="test",
                              config=Config(retries={"max_attempts": 1}, parameter_validation=False,
                                            read_timeout=120))
    finally:
        botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = saved
    if protocol:
        assert client.meta.service_model.resolved_protocol == protocol
    sent: list[bool] = []
    client.meta.events.register("before-send", lambda **_: sent.append(True))
    client.hostile_sent = sent  # type: ignore[attr-defined]
    return client


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, chdb_engine) -> Any:
    rt = make_runtime(tmp_path_factory.mktemp("hostile-aws") / "data", chdb_engine, workers="none")
    with LiveServer(rt, run_workers=False) as srv:
        yield srv
    rt.close(close_stores=False)
    rt.telemetry.drop_database()
    rt.control.dispose()


@pytest.fixture(scope="module")
def clients(server: LiveServer) -> dict[tuple[str, str | None], Any]:
    out: dict[tuple[str, str | None], Any] = {}
    # Every other service the door answers (logs, sns, and the ones Grafana's data source calls).
    for service in sorted({s for s, _ in HANDLERS} - {"cloudwatch", "elbv2"}):
        out[(service, None)] = _client(server, service)
    for p in CW_PROTOCOLS:
        out[("cloudwatch", p)] = _client(server, "cloudwatch", p)
    return out


@pytest.fixture(scope="module")
def seed(server: LiveServer) -> dict[str, list[Any]]:
    """Resources the hints point at, so generated requests reach the code behind "not found"."""
    logs, cw, sns = (server.boto3_client(s) for s in ("logs", "cloudwatch", "sns"))
    now = dt.datetime.now(dt.UTC)
    ms = int(now.timestamp() * 1000)
    logs.create_log_group(logGroupName=SEED_GROUP)
    logs.create_log_stream(logGroupName=SEED_GROUP, logStreamName=SEED_STREAM)
    logs.put_log_events(logGroupName=SEED_GROUP, logStreamName=SEED_STREAM, logEvents=[
        {"timestamp": ms - 3000 + 1000 * i, "message": m}
        for i, m in enumerate(['{"status": 500, "path": "/x"}', "ERROR it's \\ broken", "plain"])])
    cw.put_metric_data(Namespace=SEED_NS, MetricData=[
        {"MetricName": SEED_METRIC, "Dimensions": [{"Name": "Service", "Value": "api"}], "Value": 1.0,
         "Timestamp": now - dt.timedelta(minutes=2)}])
    cw.put_metric_alarm(AlarmName=SEED_ALARM, Namespace=SEED_NS, MetricName=SEED_METRIC, Statistic="Average",
                        Period=60, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
    alarm_arn = cw.describe_alarms(AlarmNames=[SEED_ALARM])["MetricAlarms"][0]["AlarmArn"]
    topic = sns.create_topic(Name="seed-topic")["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com",
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    query_id = logs.start_query(logGroupName=SEED_GROUP, startTime=int(now.timestamp()) - 3600,
                                endTime=int(now.timestamp()), queryString="fields @message | limit 5")["queryId"]
    return {
        "logGroupName": [SEED_GROUP], "logGroupIdentifier": [SEED_GROUP], "logGroupNamePrefix": ["/hostile"],
        "logGroupIdentifiers": [[SEED_GROUP]], "logGroupNames": [[SEED_GROUP]],
        "logStreamName": [SEED_STREAM], "logStreamNames": [[SEED_STREAM]], "logStreamNamePrefix": ["seed"],
        "Namespace": [SEED_NS], "MetricName": [SEED_METRIC], "AlarmName": [SEED_ALARM],
        "AlarmNames": [[SEED_ALARM]], "AlarmRule": [f'ALARM("{SEED_ALARM}")', "TRUE", 'OK("nope")'],
        "TopicArn": [topic], "SubscriptionArn": [sub], "ResourceARN": [alarm_arn, topic],
        "ResourceArn": [topic, alarm_arn], "AlarmActions": [[topic]], "OKActions": [[topic]],
        "queryId": [query_id], "Protocol": ["email", "http", "https", "sms", "slack", "sqs"],
        "queryString": ["fields @timestamp, @message | sort @timestamp desc | limit 20",
                        "stats count(*) by bin(5m)", "filter @message like /ERROR/ | parse @message '* *' as a, b"],
        "filterPattern": ["ERROR", '{ $.status = 500 }', "[ip, user, ..., status=4*]", '"it\'s"', "%a+%"],
        "Expression": ["m1 * 2", "SUM(METRICS())", "FILL(m1, 0)", "m1 / 0"],
        "startTime": [ms - 3_600_000], "endTime": [ms + 60_000],
        "StartTime": [now - dt.timedelta(hours=1)], "EndTime": [now],
        "timestamp": [ms - 5000, ms], "Timestamp": [now - dt.timedelta(minutes=1)], "Period": [60, 300, 1],
        "Statistics": [["Average", "Sum"], ["SampleCount", "Maximum", "Minimum"]], "ExtendedStatistics": [["p99"]],
        "Value": [0.0, 1.5, -2.0], "Threshold": [1.0], "EvaluationPeriods": [1, 2], "DatapointsToAlarm": [1],
        "Endpoint": ["ops@example.com", "http://127.0.0.1:9/hook", "+15555550100"],
        "Message": ["hello", '{"default": "x", "email": "y"}'], "MessageStructure": ["json"],
    }


def _hints(seed: dict[str, list[Any]], op: str) -> dict[str, st.SearchStrategy[Any]]:
    if op.startswith("Delete") or op == "Unsubscribe":
        return {}  # keep the seed resources for the other operations
    return {k: st.sampled_from(v) for k, v in seed.items()}


def _templates(seed: dict[str, list[Any]]) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    """Valid requests for operations whose member rules the shape does not tell (which go together)."""
    one = {k: st.sampled_from(v) for k, v in seed.items()}
    now = dt.datetime.now(dt.UTC)
    dims = st.lists(st.fixed_dictionaries({"Name": st.sampled_from(["Service", "q'uote", "é"]),
                                           "Value": st.sampled_from(["api", "a\\b", "x y"])}), max_size=2)
    metric = st.fixed_dictionaries({"Namespace": one["Namespace"], "MetricName": one["MetricName"],
                                    "Dimensions": dims})
    stat_names = st.sampled_from(["Average", "Sum", "Maximum", "p99", "SampleCount"])
    return {
        "PutMetricData": st.fixed_dictionaries({"Namespace": one["Namespace"], "MetricData": st.lists(
            st.fixed_dictionaries({"MetricName": one["MetricName"], "Value": st.floats(-1e6, 1e6),
                                   "Timestamp": recent_times(), "Dimensions": dims},
                                  optional={"Unit": st.sampled_from(["Count", "Seconds", "None"])}),
            min_size=1, max_size=3)}),
        "GetMetricStatistics": st.fixed_dictionaries({
            "Namespace": one["Namespace"], "MetricName": one["MetricName"], "Dimensions": dims,
            "StartTime": st.just(now - dt.timedelta(hours=2)), "EndTime": st.just(now),
            "Period": st.sampled_from([60, 300]), "Statistics": st.lists(
                st.sampled_from(["Average", "Sum", "Maximum", "Minimum", "SampleCount"]), min_size=1, max_size=2,
                unique=True)}),
        "GetMetricData": st.fixed_dictionaries({
            "StartTime": st.just(now - dt.timedelta(hours=2)), "EndTime": st.just(now),
            "MetricDataQueries": st.tuples(
                st.fixed_dictionaries({"Id": st.just("m1"), "MetricStat": st.fixed_dictionaries(
                    {"Metric": metric, "Period": st.sampled_from([60, 300]), "Stat": stat_names})}),
                st.fixed_dictionaries({"Id": st.just("e1"), "Expression": one["Expression"]}),
            ).map(list)}),
        "PutMetricAlarm": st.fixed_dictionaries({
            "AlarmName": st.text(min_size=1, max_size=20).filter(str.strip), "Namespace": one["Namespace"],
            "MetricName": one["MetricName"], "Dimensions": dims, "Statistic": st.just("Average"),
            "Period": st.sampled_from([10, 60]), "EvaluationPeriods": st.integers(1, 3),
            "Threshold": st.floats(-1e3, 1e3), "ComparisonOperator": st.just("GreaterThanThreshold"),
            "AlarmActions": st.just([seed["TopicArn"][0]])}),
        "PutCompositeAlarm": st.fixed_dictionaries({
            "AlarmName": st.text(min_size=1, max_size=20).filter(str.strip), "AlarmRule": one["AlarmRule"]}),
        "Publish": st.fixed_dictionaries({"TopicArn": one["TopicArn"], "Message": one["Message"]},
                                         optional={"Subject": st.text(max_size=20)}),
        "Subscribe": st.fixed_dictionaries({"TopicArn": one["TopicArn"], "Protocol": one["Protocol"],
                                           "Endpoint": one["Endpoint"]}),
        "PutMetricFilter": st.fixed_dictionaries({
            "logGroupName": one["logGroupName"], "filterName": st.text(min_size=1, max_size=20),
            "filterPattern": one["filterPattern"], "metricTransformations": st.just(
                [{"metricName": SEED_METRIC, "metricNamespace": SEED_NS, "metricValue": "1"}])}),
        "StartQuery": st.fixed_dictionaries({
            "logGroupName": one["logGroupName"], "queryString": one["queryString"],
            "startTime": st.just(int(now.timestamp()) - 3600), "endTime": st.just(int(now.timestamp()))}),
        "FilterLogEvents": st.fixed_dictionaries({"logGroupName": one["logGroupName"]},
                                                 optional={"filterPattern": one["filterPattern"],
                                                           "startTime": one["startTime"], "limit": st.integers(1, 50)}),
        "GetLogEvents": st.fixed_dictionaries({"logGroupName": one["logGroupName"],
                                               "logStreamName": one["logStreamName"]},
                                              optional={"startFromHead": st.booleans(), "limit": st.integers(1, 50)}),
        "SetTopicAttributes": st.fixed_dictionaries({
            "TopicArn": one["TopicArn"], "AttributeName": st.sampled_from(["DisplayName", "Policy"]),
            "AttributeValue": st.text(max_size=30)}),
    }


def _python_name(client: Any, op: str) -> str:
    return botocore.xform_name(op)


def _cases() -> list[Any]:
    cases = []
    for service, op in sorted(HANDLERS):
        if service == "elbv2":
            continue
        marks: list[Any] = []
        for protocol in CW_PROTOCOLS if service == "cloudwatch" else [None]:
            cases.append(pytest.param(service, op, protocol, marks=marks, id=f"{service}-{op}-{protocol or ''}"))
    return cases


def _send(client: Any, op: str, params: dict[str, Any], codes: set[str]) -> None:
    """Send one request; fail on a 5xx, on an error code AWS does not have, or on a reply botocore
    cannot parse. Requests botocore itself refuses to serialise never reach the server and pass."""
    client.hostile_sent.clear()
    try:
        getattr(client, _python_name(client, op))(**params)
    except botocore.exceptions.ClientError as e:
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        err = e.response.get("Error", {})
        assert status < 500, f"{op} answered {status}: {err} to {params!r:.2000}"
        assert err.get("Code") in codes, f"{op} answered {status} with unknown code {err} to {params!r:.2000}"
        assert err.get("Message"), f"{op} answered {err.get('Code')} without a message"
    except (botocore.exceptions.ParamValidationError, TypeError, ValueError, OverflowError, AttributeError) as e:
        if client.hostile_sent:
            raise AssertionError(f"{op}: the reply could not be handled: {e!r} (request {params!r:.2000})") from e


@pytest.mark.parametrize(("service", "op", "protocol"), _cases())
def test_operation_survives_hostile_input(service, op, protocol, clients, seed):
    client = clients[(service, protocol)]
    shape = client.meta.service_model.operation_model(op).input_shape
    strategy = request_strategy(shape, _hints(seed, op), _templates(seed).get(op))
    codes = service_codes(client)

    @hostile_settings(15 if service != "cloudwatch" else 6)
    @given(strategy)
    def run(params: dict[str, Any]) -> None:
        _send(client, op, params, codes)

    run()


def test_every_implemented_operation_is_covered():
    covered = {(s, o) for s, o, _ in (c.values for c in _cases())}
    assert covered == {k for k in HANDLERS if k[0] != "elbv2"}
    assert len(covered) > 60


# Raw bodies botocore would never produce -------------------------------------------------------------

JSON_TARGETS = {"logs": "Logs_20140328", "cloudwatch": "GraniteServiceVersion20100801"}


def _json_ops() -> list[tuple[str, str]]:
    return sorted(k for k in HANDLERS if k[0] in JSON_TARGETS)


def _assert_json_error(r: httpx.Response, what: str) -> None:
    assert r.status_code < 500, f"{what}: {r.status_code} {r.text[:200]}"
    if r.status_code >= 400:
        body = r.json()
        assert isinstance(body.get("__type"), str) and body["__type"], f"{what}: {r.text[:200]}"
        assert isinstance(body.get("message"), str) and body["message"], f"{what}: {r.text[:200]}"


MALFORMED_JSON = [b"{", b'{"a": }', b"\xff\xfe", b'{"a": "\\ud800"}', b"[" * 5000 + b"]" * 5000,
                  b'{"a": 1e999}', b'{"a": NaN}', b"\x00", b'{"logGroupName": "x", "logGroupName": 5}',
                  b'"just a string"', b"12", b"true"]


@pytest.mark.parametrize(("service", "op"), _json_ops(), ids=[f"{s}-{o}" for s, o in _json_ops()])
def test_json_door_refuses_malformed_bodies(service, op, server):
    headers = {"X-Amz-Target": f"{JSON_TARGETS[service]}.{op}", "Content-Type": "application/x-amz-json-1.1"}
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for body in MALFORMED_JSON:
            _assert_json_error(http.post("/", content=body, headers=headers), f"{op} {body[:30]!r}")


@hostile_settings(25)
@given(data=st.data())
def test_json_door_wrong_types_anywhere(server, clients, data):
    """Any member of any JSON operation given a value of any JSON type: a 4xx in the AWS shape."""
    service, op = data.draw(st.sampled_from(_json_ops()))
    key = (service, "json") if service == "cloudwatch" else (service, None)
    shape = clients[key].meta.service_model.operation_model(op).input_shape
    json_values = st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.floats(allow_nan=False),
                  awkward_text(8)),
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(awkward_text(6), inner, max_size=3)),
        max_leaves=6)
    members = list(shape.members) if shape is not None else ["x"]
    body = data.draw(st.dictionaries(st.sampled_from(members), json_values, max_size=len(members)))
    headers = {"X-Amz-Target": f"{JSON_TARGETS[service]}.{op}", "Content-Type": "application/x-amz-json-1.1"}
    # The standard library writes integers past 64 bits, as a hostile client may.
    r = httpx.post(server.url + "/", content=json.dumps(body).encode(), headers=headers, timeout=60)
    _assert_json_error(r, f"{op} {body!r:.200}")


def _cbor_ops() -> list[str]:
    return sorted(o for s, o in HANDLERS if s == "cloudwatch")


def _assert_cbor_error(r: httpx.Response, what: str) -> None:
    assert r.status_code < 500, f"{what}: {r.status_code} {r.content[:200]!r}"
    if r.status_code >= 400:
        body = cbor2.loads(r.content)
        assert isinstance(body.get("__type"), str) and body["__type"], what
        assert isinstance(body.get("message"), str) and body["message"], what


@pytest.mark.parametrize("op", _cbor_ops())
def test_cbor_door_refuses_malformed_bodies(op, server):
    good = cbor2.dumps({"Namespace": SEED_NS, "MetricName": SEED_METRIC, "AlarmName": SEED_ALARM,
                        "AlarmNames": [SEED_ALARM], "MetricData": [{"MetricName": "m", "Value": 1.0}]})
    bodies = [good[: len(good) // 2], good[:1], b"\xff", b"\x9f" * 3000, cbor2.dumps([1, 2]), cbor2.dumps("x"),
              cbor2.dumps({"Namespace": cbor2.CBORTag(55799, b"\x00")}), cbor2.dumps({1: 2, b"k": None}),
              b"\xbf" + b"\x61a" * 10, cbor2.dumps({"AlarmNames": {"a": 1}, "MetricData": "x"})]
    url = f"{server.url}/service/GraniteServiceVersion20100801/operation/{op}"
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
    with httpx.Client(timeout=60) as http:
        for body in bodies:
            _assert_cbor_error(http.post(url, content=body, headers=headers), f"{op} {body[:30]!r}")


def _assert_query_error(r: httpx.Response, what: str) -> None:
    assert r.status_code < 500, f"{what}: {r.status_code} {r.text[:200]}"
    if r.status_code >= 400:
        assert "<ErrorResponse" in r.text and "<Code>" in r.text and "<Message>" in r.text, what


MALFORMED_FORMS = ["Action={op}&Version={v}&%ZZ=1", "Action={op}&Version={v}&Tags.member.99999999.Key=a",
                   "Action={op}&Version={v}&Attributes.entry.1.value=x",
                   "Action={op}&Version={v}&Name=%00%FF%FE", "Action={op}&Version={v}&" + "a=b&" * 5000,
                   "Action={op}&Version={v}&Period=1e999&Threshold=NaN&EvaluationPeriods=-99999999999999999999",
                   "Action={op}&Version={v}&StartTime=1e20&EndTime=-1e12",
                   "Action={op}&Version={v}&StartTime=9999-99-99T00:00:00Z"]


@pytest.mark.parametrize(("service", "op"), sorted(k for k in HANDLERS if k[0] in ("sns", "cloudwatch")))
def test_query_door_refuses_malformed_forms(service, op, server):
    version = {"sns": "2010-03-31", "cloudwatch": "2010-08-01"}[service]
    with httpx.Client(timeout=60) as http:
        for form in MALFORMED_FORMS:
            body = form.format(op=op, v=version).encode()
            r = http.post(server.url + "/", content=body,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
            _assert_query_error(r, f"{op} {body[:60]!r}")
        r = http.post(server.url + "/", content=b"\xff\xfe", headers={"Content-Type": "application/x-www-form-urlencoded"})
        _assert_query_error(r, "not UTF-8")



# Regression tests for what the suite found, each failing example kept --------------------------------

TIMESTAMP_EXTREMES = st.sampled_from([1e20, -1e12, 2**63, -(2**63), 1e308, 253402300800])


@hostile_settings(6)
@given(value=TIMESTAMP_EXTREMES)
@example(value=1e20)  # OverflowError: timestamp out of range for platform time_t
@example(value=-1e12)  # ValueError: year is out of range, raised past the codec
@example(value=2**64)  # OverflowError: int too large to convert to float
def test_json_timestamp_out_of_range_is_400(server, value):
    now = dt.datetime.now(dt.UTC).timestamp()
    r = httpx.post(server.url + "/", content=json.dumps({
        "Namespace": SEED_NS, "MetricName": SEED_METRIC, "StartTime": value, "EndTime": now, "Period": 60,
        "Statistics": ["Sum"]}).encode(), headers={
        "X-Amz-Target": "GraniteServiceVersion20100801.GetMetricStatistics",
        "Content-Type": "application/x-amz-json-1.0"}, timeout=60)
    assert r.status_code == 400, r.text
    assert r.json()["__type"] == "SerializationException"
    assert "StartTime" in r.json()["message"] and "9999" in r.json()["message"]


@hostile_settings(6)
@given(value=st.sampled_from(["1e20", "-1e12", "nan", "inf", "-inf", "1e999", "253402300800"]))
@example(value="1e20")  # OverflowError in the query codec: a 500
@example(value="nan")  # ValueError from fromtimestamp, then fromisoformat("nan"): a 400 by luck
def test_query_timestamp_out_of_range_is_400(server, value):
    r = httpx.post(server.url + "/", data={
        "Action": "GetMetricStatistics", "Version": "2010-08-01", "Namespace": SEED_NS,
        "MetricName": SEED_METRIC, "StartTime": value, "EndTime": "2026-01-01T00:00:00Z", "Period": "60",
        "Statistics.member.1": "Sum"}, timeout=60)
    assert r.status_code == 400, r.text
    assert "<Code>InvalidParameterValue</Code>" in r.text and "StartTime" in r.text


@pytest.mark.parametrize("value", [1e20, -1e12, float("nan")])
def test_cbor_timestamp_out_of_range_is_400(server, value):
    body = cbor2.dumps({"Namespace": SEED_NS, "MetricName": SEED_METRIC, "StartTime": value,
                        "EndTime": cbor2.CBORTag(1, 1.7e9), "Period": 60, "Statistics": ["Sum"]})
    r = httpx.post(f"{server.url}/service/GraniteServiceVersion20100801/operation/GetMetricStatistics",
                   content=body, headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"},
                   timeout=60)
    assert r.status_code == 400, r.content


@pytest.mark.parametrize("body", [b"\xff\xfe", b"Action=ListTopics", b"Version=2010-03-31", b"a" * 100])
def test_form_requests_the_door_cannot_place_answer_in_xml(server, body):
    """A form-encoded request is a query client's: errors before the operation is known are XML too."""
    r = httpx.post(server.url + "/", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/xml")
    assert "<ErrorResponse" in r.text and "<Code>" in r.text


@hostile_settings(8)
@given(text=st.sampled_from(["²", "1²", "٣", "99999999999999999999", "-1", "1.5", ""]))
@example(text="²")  # str.isdigit says yes, int() says ValueError: a 500 from three places
@example(text="99999999999999999999")  # a filter-pattern array index past 64 bits failed the query
def test_unicode_digits_are_refused_not_crashed(server, clients, text):
    logs = clients[("logs", None)]
    codes = service_codes(logs)
    _send(logs, "DescribeMetricFilters", {"nextToken": text}, codes)
    _send(logs, "FilterLogEvents", {"logGroupName": SEED_GROUP, "filterPattern": f"{{ $.a[{text}] = 1 }}"}, codes)
    now = int(dt.datetime.now(dt.UTC).timestamp())
    _send(logs, "StartQuery", {"logGroupName": SEED_GROUP, "startTime": now - 60, "endTime": now,
                               "queryString": f"fields a.{text}"}, codes)
    cw = clients[("cloudwatch", "json")]
    _send(cw, "PutMetricAlarm", {"AlarmName": "digits", "Namespace": SEED_NS, "MetricName": SEED_METRIC,
                                 "ExtendedStatistic": f"p{text}", "Period": 60, "EvaluationPeriods": 1,
                                 "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold"},
          service_codes(cw))

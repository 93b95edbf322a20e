"""OTLP/HTTP intake with the real OpenTelemetry SDK exporters against a real server."""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import time

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from rexwatch.intake.cumulative import CumulativeTracker
from rexwatch.testing import wait_until


def _stat(cw, name, stat, dims, *, extended=False, namespace="otel"):
    now = dt.datetime.now(dt.UTC)
    kw = {"ExtendedStatistics": [stat]} if extended else {"Statistics": [stat]}
    r = cw.get_metric_statistics(Namespace=namespace, MetricName=name, Dimensions=dims,
                                 StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5),
                                 Period=3600, **kw)
    points = r["Datapoints"]
    if not points:
        return None
    return points[0]["ExtendedStatistics"][stat] if extended else points[0][stat]


def test_sdk_logs_land_in_service_log_group_with_attributes_and_trace_ids(live):
    resource = Resource.create({"service.name": "utm-api", "service.instance.id": "task-1",
                                "deployment.environment": "prod"})
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(SimpleLogRecordProcessor(
        OTLPLogExporter(endpoint=f"{live.url}/v1/logs", compression=Compression.Gzip)))
    logger = logging.getLogger("test.otlp.logs")
    logger.propagate = False
    handler = LoggingHandler(logger_provider=provider)
    logger.addHandler(handler)
    tracer = TracerProvider(resource=resource).get_tracer("t")
    try:
        with tracer.start_as_current_span("login") as span:
            logger.warning("login failed for %s", "u1", extra={"user_id": "u1", "duration": 1234})
            trace_id = format(span.get_span_context().trace_id, "032x")
        logger.error("ERROR database down")
        provider.force_flush()
    finally:
        logger.removeHandler(handler)
        provider.shutdown()

    logs = live.boto3_client("logs")
    groups = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/otel/")["logGroups"]]
    assert groups == ["/otel/utm-api"]
    streams = logs.describe_log_streams(logGroupName="/otel/utm-api")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["task-1"]

    by_attr = logs.filter_log_events(logGroupName="/otel/utm-api",
                                     filterPattern='{ $.attributes.user_id = "u1" && $.attributes.duration > 1000 }')
    assert len(by_attr["events"]) == 1
    import json

    doc = json.loads(by_attr["events"][0]["message"])
    assert doc["body"] == "login failed for u1"
    assert doc["severityText"] == "WARN"
    assert doc["traceId"] == trace_id and len(doc["spanId"]) == 16
    assert doc["resource"]["deployment.environment"] == "prod"

    by_trace = logs.filter_log_events(logGroupName="/otel/utm-api", filterPattern=f'{{ $.traceId = "{trace_id}" }}')
    assert len(by_trace["events"]) == 1
    errors = logs.filter_log_events(logGroupName="/otel/utm-api", filterPattern="ERROR")
    assert [json.loads(e["message"])["body"] for e in errors["events"]] == ["ERROR database down"]

    # Insights sees the nested fields too.
    q = logs.start_query(logGroupName="/otel/utm-api", startTime=int(time.time()) - 3600,
                         endTime=int(time.time()) + 60,
                         queryString="stats count() as n by attributes.user_id | filter ispresent(attributes.user_id)")
    r = wait_until(lambda: (res := logs.get_query_results(queryId=q["queryId"]))["status"]
                   in ("Complete", "Failed", "Cancelled") and res, 60, what="the Insights query to finish")
    assert r["status"] == "Complete"
    assert [{f["field"]: f["value"] for f in row} for row in r["results"]] == [{"attributes.user_id": "u1", "n": "1"}]


def test_sdk_metrics_counters_histograms_and_dimensions(live):
    resource = Resource.create({"service.name": "utm-api", "telemetry.sdk.language": "python"})
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{live.url}/v1/metrics"),
                                           export_interval_millis=3_600_000)
    provider = MeterProvider(resource=resource, metric_readers=[reader], views=[
        View(instrument_name="latency.exp", aggregation=ExponentialBucketHistogramAggregation())])
    meter = provider.get_meter("test")
    requests = meter.create_counter("http.requests", unit="{request}")
    latency = meter.create_histogram("latency", unit="ms")
    latency_exp = meter.create_histogram("latency.exp", unit="ms")
    temp = meter.create_gauge("temperature")
    try:
        requests.add(5, {"route": "/login"})
        requests.add(2, {"route": "/users"})
        temp.set(21.5)
        provider.force_flush()
        requests.add(3, {"route": "/login"})  # cumulative 8: stored as +3, not 8
        for v in range(1, 1001):
            latency.record(v, {"route": "/login"})
            latency_exp.record(v)
        provider.force_flush()
    finally:
        provider.shutdown()

    cw = live.boto3_client("cloudwatch")
    login = [{"Name": "service.name", "Value": "utm-api"}, {"Name": "route", "Value": "/login"}]
    assert _stat(cw, "http.requests", "Sum", login) == 8.0
    assert _stat(cw, "http.requests", "Sum", [{"Name": "service.name", "Value": "utm-api"},
                                               {"Name": "route", "Value": "/users"}]) == 2.0
    assert _stat(cw, "temperature", "Maximum", [{"Name": "service.name", "Value": "utm-api"}]) == 21.5
    # Not a kept resource attribute: not a dimension.
    names = {d["Name"] for m in cw.list_metrics(Namespace="otel")["Metrics"] for d in m["Dimensions"]}
    assert names == {"service.name", "route"}
    # Explicit buckets: the percentile falls in the right bucket (default bounds ... 250, 500, 750 ...).
    assert 250 < _stat(cw, "latency", "p50", login, extended=True) <= 500
    assert _stat(cw, "latency", "SampleCount", login) == 1000
    # Exponential buckets: within a bucket's relative width (scale 20 -> far below 5 %).
    p90 = _stat(cw, "latency.exp", "p90", [{"Name": "service.name", "Value": "utm-api"}], extended=True)
    assert abs(p90 - 900) / 900 < 0.05
    units = {m: u for m, u in (("latency", "Milliseconds"), ("http.requests", "Count"))}
    for metric, unit in units.items():
        r = cw.get_metric_statistics(Namespace="otel", MetricName=metric, Dimensions=login,
                                     StartTime=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
                                     EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
                                     Period=3600, Statistics=["SampleCount"])
        assert r["Datapoints"][0]["Unit"] == unit


def _metrics_request(points_json: list[dict]) -> dict:
    return {"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
        "scopeMetrics": [{"metrics": [{"name": "queue.depth", "gauge": {"dataPoints": points_json}}]}],
    }]}


def test_json_encoding_partial_success_and_errors(live):
    now_ns = time.time_ns()
    body = _metrics_request([
        {"timeUnixNano": str(now_ns), "asDouble": 7.0,
         "exemplars": [{"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
                        "asDouble": 7.0, "timeUnixNano": str(now_ns)}]},
        {"timeUnixNano": str(now_ns - 30 * 86400 * 10**9), "asDouble": 1.0},  # a month old: refused
        {"timeUnixNano": str(now_ns), "asDouble": "NaN"},
    ])
    r = httpx.post(f"{live.url}/v1/metrics", json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["partialSuccess"]["rejectedDataPoints"] == "2"
    cw = live.boto3_client("cloudwatch")
    assert _stat(cw, "queue.depth", "Maximum", [{"Name": "service.name", "Value": "json-svc"}]) == 7.0

    # Gzip of JSON works as the spec allows.
    r = httpx.post(f"{live.url}/v1/metrics", content=gzip.compress(b'{"resourceMetrics": []}'),
                   headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert r.status_code == 200 and r.json() == {}

    # Malformed protobuf: 400 with a google.rpc.Status body in protobuf; exporters do not retry it.
    r = httpx.post(f"{live.url}/v1/metrics", content=b"\xff\xff\xff",
                   headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 400
    st = status_pb2.Status.FromString(r.content)
    assert "protobuf" in st.message and st.code == 3

    r = httpx.post(f"{live.url}/v1/logs", content=b"<xml/>", headers={"content-type": "text/xml"})
    assert r.status_code == 415 and "Content-Type" in _status(r).message  # unknown encoding: protobuf
    r = httpx.post(f"{live.url}/v1/logs", json={"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"traceId": "not-hex", "body": {"stringValue": "x"}}]}]}]})
    assert r.status_code == 400 and "traceId" in r.json()["message"]
    r = httpx.post(f"{live.url}/v1/logs", content=b"\x1f\x8b broken",
                   headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"})
    assert r.status_code == 400 and "gzip" in _status(r).message


def _status(r: httpx.Response) -> status_pb2.Status:
    return status_pb2.Status.FromString(r.content)


def test_body_bound_is_enforced_before_decoding(live):
    MAX_BODY = live.runtime.settings.max_body_bytes

    bomb = gzip.compress(b"\0" * (MAX_BODY + 10))
    r = httpx.post(f"{live.url}/v1/metrics", content=bomb,
                   headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"})
    assert r.status_code == 413
    r = httpx.post(f"{live.url}/v1/metrics", content=b"\0" * (MAX_BODY + 1),
                   headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 413


def test_auth_accepts_bearer_key_as_exporters_send_it(tmp_path, chdb_engine):
    from rexwatch.testing import LiveServer, make_runtime

    rt = make_runtime(tmp_path / "data", chdb_engine, workers="none", auth="on")
    try:
        key = rt.keys.create("otel").token
        with LiveServer(rt, run_workers=False) as server:
            r = httpx.post(f"{server.url}/v1/metrics", content=b"",
                           headers={"content-type": "application/x-protobuf"})
            assert r.status_code == 401
            exporter = OTLPMetricExporter(endpoint=f"{server.url}/v1/metrics",
                                          headers={"authorization": f"Bearer {key}"})
            provider = MeterProvider(resource=Resource.create({"service.name": "authd"}),
                                     metric_readers=[PeriodicExportingMetricReader(
                                         exporter, export_interval_millis=3_600_000)])
            provider.get_meter("t").create_counter("c").add(1)
            assert provider.force_flush()
            provider.shutdown()
            r = httpx.post(f"{server.url}/v1/metrics", content=b"",
                           headers={"content-type": "application/x-protobuf", "x-api-key": key})
            assert r.status_code == 200
            assert ExportMetricsServiceResponse.FromString(r.content) == ExportMetricsServiceResponse()
    finally:
        rt.close(close_stores=False)
        rt.telemetry.drop_database()
        rt.control.dispose()


@pytest.mark.parametrize(("points", "expected"), [
    ([(1, 10.0), (1, 15.0), (1, 15.0)], [10.0, 5.0, 0.0]),
    ([(1, 10.0), (1, 4.0)], [10.0, 4.0]),  # went down: reset
    ([(1, 10.0), (2, 3.0)], [10.0, 3.0]),  # new start time: reset
    ([(0, 10.0), (0, 12.0)], [0.0, 2.0]),  # no start time: the first point is only a baseline
])
def test_cumulative_to_delta(points, expected):
    t = CumulativeTracker()
    assert [t.delta("k", s, v) for s, v in points] == expected


def test_cumulative_state_is_bounded():
    t = CumulativeTracker(max_series=2)
    for k in "abc":
        t.delta(k, 1, 5.0)
    assert t.delta("a", 1, 7.0) == 7.0  # forgotten: counted from its start again

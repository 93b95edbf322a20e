"""The SDK's EMF exporter: metrics as Embedded Metric Format events, extracted by a live server."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import random
import subprocess
import sys
import textwrap
import time

import pytest

import rexwatch.sdk as rw
from rexwatch.sdk.exporters.base import MetricDatum
from rexwatch.sdk.exporters.emf import MAX_VALUES, emf_events, samples
from rexwatch.sdk.requests import finish, start
from rexwatch.services.metrics.emf import EmfExtractor
from rexwatch.testing import LiveServer, free_port, wait_until
from sdk_helpers import log_lines, metric_stats, wait_for


@pytest.fixture(autouse=True)
def _sdk_off():
    handler = rw.RexwatchHandler()
    log = logging.getLogger("billing")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield
    log.removeHandler(handler)
    rw.shutdown(5)


def test_metrics_leave_as_emf_events_and_the_server_extracts_them(live):
    rw.configure(logging_level=None, exporter="emf", endpoint=live.url, service="emf-api", namespace="UTM/Emf",
                 log_group="/aws/ecs/emf-api", aws_access_key_id="x", aws_secret_access_key="x", flush_interval=60)
    logging.getLogger("billing").info("invoice sent", extra={"invoice": "i-1"})
    for ms in range(1, 251):  # 250 samples: three events of at most 100
        rw.put_metric("APILatency", ms, "Milliseconds", {"Tenant": "acme"})
    rw.put_metric("TenantCreated", 1, "Count")
    for status in (200, 200, 503):
        ctx = start("POST", "/invoices", None, lambda: "/invoices")
        finish(ctx, status, 0.125)
    assert rw.flush(30), rw.stats()
    extractor = live.runtime.service(EmfExtractor)
    wait_for(lambda: extractor.events >= 6, what="the EMF events extracted")
    assert extractor.wait_idle(60) and extractor.errors == 0

    lat = metric_stats(live.url, "UTM/Emf", "APILatency", {"Tenant": "acme"})
    assert (lat["SampleCount"], lat["Sum"], lat["Minimum"], lat["Maximum"]) == (250, 250 * 251 / 2, 1, 250)
    assert metric_stats(live.url, "UTM/Emf", "TenantCreated")["Sum"] == 1
    route = {"Service": "emf-api", "Route": "/invoices"}
    assert metric_stats(live.url, "UTM/Emf", "RequestCount", route)["Sum"] == 3
    five = metric_stats(live.url, "UTM/Emf", "HTTPCode_Target_5XX_Count", route)
    assert (five["Sum"], five["SampleCount"]) == (1, 3)  # Average is the error rate, as with PutMetricData
    rt = metric_stats(live.url, "UTM/Emf", "TargetResponseTime", {"Service": "emf-api"})
    assert rt["SampleCount"] == 3 and math.isclose(rt["Sum"], 0.375)

    # The events stay in the log group next to the app's lines, as in CloudWatch Logs.
    lines = log_lines(live.url, "/aws/ecs/emf-api")
    assert any(x.get("invoice") == "i-1" for x in lines)
    emf = [x for x in lines if "_aws" in x]
    assert {m["Name"] for x in emf for d in x["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]} >= {
        "APILatency", "RequestCount", "TargetResponseTime", "HTTPCode_Target_5XX_Count"}
    assert all(len(x["APILatency"]) <= MAX_VALUES for x in emf if isinstance(x.get("APILatency"), list))


def test_samples_keep_every_statistic_of_the_set():
    rng = random.Random(7)
    for _ in range(500):
        values = [rng.uniform(-1e3, 1e6) for _ in range(rng.randint(1, 400))]
        d = MetricDatum("X", (), "None", 0.0, len(values), sum(values), min(values), max(values))
        got = samples(d)
        assert len(got) == len(values) and min(got) == min(values) and max(got) == max(values)
        assert math.isclose(sum(got), sum(values), rel_tol=1e-9, abs_tol=1e-6)
    same = MetricDatum("X", (), "Count", 0.0, 3, 3, 1, 1)
    assert samples(same) == [1, 1, 1]


def test_one_event_holds_every_metric_of_a_dimension_set():
    a = MetricDatum("RequestCount", (("Service", "s"),), "Count", 1.0, 2, 2, 1, 1)
    b = MetricDatum("TargetResponseTime", (("Service", "s"),), "Seconds", 1.0, 2, 0.5, 0.1, 0.4)
    [(ts, text)] = emf_events("NS", [a, b])
    doc = json.loads(text)
    assert ts == 1000 and doc["Service"] == "s" and doc["RequestCount"] == [1, 1]
    assert doc["TargetResponseTime"] == [0.1, 0.4]
    assert doc["_aws"] == {"Timestamp": 1000, "CloudWatchMetrics": [{
        "Namespace": "NS", "Dimensions": [["Service"]],
        "Metrics": [{"Name": "RequestCount", "Unit": "Count"}, {"Name": "TargetResponseTime", "Unit": "Seconds"}]}]}


@pytest.fixture
def emf_live(runtime):
    runtime.settings.emf_agent_port = free_port()
    with LiveServer(runtime, run_workers=False) as server:
        yield server


def _metric_data(cw, namespace: str, name: str, dims: dict[str, str], stat: str) -> float | None:
    """One value over the last hour from GetMetricData, or None while there is none."""
    now = dt.datetime.now(dt.UTC)
    r = cw.get_metric_data(StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5),
                           MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {
                               "Namespace": namespace, "MetricName": name,
                               "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]},
                               "Period": 3600, "Stat": stat}}])
    values = r["MetricDataResults"][0]["Values"]
    return values[0] if values else None


def _reaches(cw, namespace: str, name: str, dims: dict[str, str], stat: str, want: float) -> None:
    """Wait until the statistic reads ``want``; fail showing the last value read."""
    last: list[float | None] = []
    try:
        wait_until(lambda: last.append(_metric_data(cw, namespace, name, dims, stat)) or last[-1] == want,
                   what=f"{name} {stat} to be {want}")
    except AssertionError as e:
        raise AssertionError(f"{name} {stat}: last read {last[-1:]}, expected {want}") from e


@pytest.mark.parametrize("scheme", ["tcp", "udp"])
def test_emf_to_the_agent_port_over_tcp_and_udp(emf_live, runtime, scheme):
    port = runtime.settings.emf_agent_port
    ns = f"UTM/EmfAgent{scheme.upper()}"
    rw.configure(logging_level=None, exporter="emf", emf_destination=f"{scheme}://127.0.0.1:{port}",
                 service="agent-api", namespace=ns, log_group=f"/aws/ecs/agent-{scheme}", log_stream="task-1",
                 flush_interval=60)
    logging.getLogger("billing").info("invoice sent", extra={"invoice": f"i-{scheme}"})
    for ms in range(1, 251):
        rw.put_metric("APILatency", ms, "Milliseconds", {"Tenant": "acme"})
    for status in (200, 200, 503):
        ctx = start("POST", "/invoices", None, lambda: "/invoices")
        finish(ctx, status, 0.125)
    assert rw.flush(30), rw.stats()
    assert rw.stats()["send_errors"] == 0

    cw = emf_live.boto3_client("cloudwatch")
    # The 250 samples leave as three events of at most 100, and the listener stores whatever lines have
    # arrived: a read between two of its batches sees part of them. Wait for all, then check them.
    _reaches(cw, ns, "APILatency", {"Tenant": "acme"}, "SampleCount", 250)
    assert _metric_data(cw, ns, "APILatency", {"Tenant": "acme"}, "Sum") == 250 * 251 / 2
    route = {"Service": "agent-api", "Route": "/invoices"}
    _reaches(cw, ns, "HTTPCode_Target_5XX_Count", route, "Sum", 1)
    _reaches(cw, ns, "RequestCount", route, "Sum", 3)

    # The app's own line reaches its group and stream, with the time it was logged.
    logs = emf_live.boto3_client("logs")
    events = wait_until(lambda: logs.filter_log_events(logGroupName=f"/aws/ecs/agent-{scheme}",
                                                        filterPattern=f'{{ $.invoice = "i-{scheme}" }}')["events"],
                        what="the app's line")
    assert events[0]["logStreamName"] == "task-1"
    line = json.loads(events[0]["message"])
    assert line["message"] == "invoice sent" and line["_aws"]["Timestamp"] == events[0]["timestamp"]


def test_emf_agent_down_is_counted_not_raised():
    rw.configure(logging_level=None, exporter="emf", emf_destination=f"tcp://127.0.0.1:{free_port()}",
                 service="agent-down", flush_interval=60, timeout=1)
    logging.getLogger("billing").info("nobody listens")
    rw.put_metric("TenantCreated", 1, "Count")
    assert rw.flush(10) is False
    assert rw.stats()["send_errors"] >= 1


STDOUT_APP = textwrap.dedent("""
    import logging
    import rexwatch.sdk as rw
    from rexwatch.sdk.requests import finish, start

    rw.configure(service="lambda-api", namespace="UTM/EmfStdout", flush_interval=60)
    logging.getLogger("orders").info("order placed", extra={"order": "o-1"})
    rw.put_metric("TenantCreated", 2, "Count", {"Plan": "pro"})
    for seconds in (0.010, 0.020, 0.300):
        finish(start("GET", "/orders/1", None, lambda: "/orders/{id}"), 200, seconds)
    print("the app's own print", flush=True)
    assert rw.shutdown(10), rw.stats()
""")


def test_emf_on_stdout_is_what_lambda_or_a_collector_ships(live):
    env = {**os.environ, "REXWATCH_EXPORTER": "emf", "REXWATCH_EMF_DESTINATION": "stdout"}
    env.pop("AWS_ACCESS_KEY_ID", None)  # stdout needs no credentials
    done = subprocess.run([sys.executable, "-c", STDOUT_APP], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert "the app's own print" in out
    docs = [json.loads(x) for x in out if x.startswith("{")]
    assert any(d.get("order") == "o-1" and d["logger"] == "orders" for d in docs)
    emf = [d for d in docs if "_aws" in d]
    assert emf and all("LogGroupName" not in d["_aws"] for d in emf)  # the function's own group

    # Ship the captured output as a log collector would (Lambda extracts EMF from its log group).
    logs = live.boto3_client("logs")
    logs.create_log_group(logGroupName="/aws/lambda/stdout-api")
    logs.create_log_stream(logGroupName="/aws/lambda/stdout-api", logStreamName="run")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/aws/lambda/stdout-api", logStreamName="run",
                        logEvents=[{"timestamp": now, "message": x} for x in out])
    cw = live.boto3_client("cloudwatch")
    got = wait_until(lambda: _metric_data(cw, "UTM/EmfStdout", "TenantCreated", {"Plan": "pro"}, "Sum"),
                     what="TenantCreated from the stdout lines")
    assert got == 2
    svc = {"Service": "lambda-api"}
    assert wait_until(lambda: _metric_data(cw, "UTM/EmfStdout", "TargetResponseTime", svc, "SampleCount"),
                      what="TargetResponseTime") == 3
    assert math.isclose(_metric_data(cw, "UTM/EmfStdout", "TargetResponseTime", svc, "Maximum"), 0.3,
                        rel_tol=1e-9)


def test_destination_is_checked_at_configure():
    with pytest.raises(ValueError, match="emf_destination"):
        rw.configure(logging_level=None, exporter="emf", emf_destination="http://127.0.0.1:25888")

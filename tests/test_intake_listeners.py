"""The optional listeners: the CloudWatch agent's EMF port (TCP and UDP) and OTLP on its own port."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from rexwatch.testing import LiveServer, free_port, wait_until

# aws-embedded-metrics in agent mode, run as its own process (its configuration is process-wide).
EMF_CLIENT = textwrap.dedent("""
    from aws_embedded_metrics import metric_scope

    @metric_scope
    def handler(metrics):
        metrics.set_namespace("UTM/Agent")
        metrics.set_dimensions({"Service": "worker"})  # no default dimensions
        metrics.put_metric("JobsDone", 3, "Count")
        metrics.put_metric("JobMs", 120, "Milliseconds")
        metrics.set_property("job_id", "j-42")

    handler()
""")


@pytest.fixture
def emf_live(runtime):
    runtime.settings.emf_agent_port = free_port()
    with LiveServer(runtime, run_workers=False) as server:
        yield server


def _sum(cw, name: str) -> float | None:
    now = dt.datetime.now(dt.UTC)
    r = cw.get_metric_statistics(Namespace="UTM/Agent", MetricName=name,
                                 Dimensions=[{"Name": "Service", "Value": "worker"}],
                                 StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5),
                                 Period=3600, Statistics=["Sum", "SampleCount"])
    return r["Datapoints"][0]["Sum"] if r["Datapoints"] else None


@pytest.mark.parametrize("scheme", ["tcp", "udp"])
def test_aws_embedded_metrics_agent_mode_over_tcp_and_udp(emf_live, runtime, scheme):
    port = runtime.settings.emf_agent_port
    env = {**os.environ, "AWS_EMF_ENVIRONMENT": "Agent", "AWS_EMF_AGENT_ENDPOINT": f"{scheme}://127.0.0.1:{port}",
           "AWS_EMF_LOG_GROUP_NAME": f"/app/emf-{scheme}", "AWS_EMF_LOG_STREAM_NAME": "worker-1",
           "AWS_EMF_SERVICE_NAME": "worker", "AWS_EMF_SERVICE_TYPE": "test"}
    done = subprocess.run([sys.executable, "-c", EMF_CLIENT], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

    logs = emf_live.boto3_client("logs")
    events = wait_until(lambda: logs.filter_log_events(logGroupName=f"/app/emf-{scheme}",
                                                        filterPattern='{ $.job_id = "j-42" }')["events"],
                        what="the EMF event in its log group")
    assert len(events) == 1 and events[0]["logStreamName"] == "worker-1"
    cw = emf_live.boto3_client("cloudwatch")
    assert wait_until(lambda: _sum(cw, "JobsDone"), what="the extracted metric") == 3.0


def test_bad_lines_are_counted_not_stored(emf_live, runtime):
    import socket

    port = runtime.settings.emf_agent_port
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"not json\n[1, 2]\n" + b'{"_aws": {"LogGroupName": "/app/raw"}, "msg": "kept"}')
    logs = emf_live.boto3_client("logs")
    events = wait_until(lambda: logs.filter_log_events(logGroupName="/app/raw")["events"],
                        what="the valid line")
    assert [e["message"] for e in events] == ['{"_aws": {"LogGroupName": "/app/raw"}, "msg": "kept"}']
    metrics = httpx.get(f"{emf_live.url}/metrics").text
    assert 'rexwatch_rejected_total{kind="emf_agent",reason="invalid"} 2.0' in metrics


def test_otlp_port_serves_only_otlp(server_process):
    otlp_port = free_port()
    srv = server_process("--workers", "none", env={"REXWATCH_OTLP_PORT": str(otlp_port)}).start()
    try:
        provider = TracerProvider(resource=Resource.create({"service.name": "edge"}))
        provider.add_span_processor(SimpleSpanProcessor(
            OTLPSpanExporter(endpoint=f"http://127.0.0.1:{otlp_port}/v1/traces")))
        with provider.get_tracer("t").start_as_current_span("hop") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
        provider.shutdown()
        # Stored through the OTLP port, read through the main port.
        got = httpx.get(f"{srv.url}/api/v1/traces/{trace_id}")
        assert got.status_code == 200 and got.json()["spans"][0]["name"] == "hop"
        # The OTLP port answers nothing else.
        assert httpx.get(f"http://127.0.0.1:{otlp_port}/api/v1/traces/{trace_id}").status_code == 404
        assert httpx.get(f"http://127.0.0.1:{otlp_port}/health").status_code == 404
        assert httpx.get(f"{srv.url}/health").status_code == 200
    finally:
        srv.stop()

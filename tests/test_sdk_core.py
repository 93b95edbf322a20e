"""The SDK core against a live server: sending, statistic sets, SigV4, drops, shutdown and fork."""

from __future__ import annotations

import logging
import os
import time
import tracemalloc

import pytest

import rexwatch.sdk as rw
from rexwatch.aws.sigv4 import verify
from rexwatch.sdk.exporters import EXPORTERS
from rexwatch.sdk.exporters.base import MAX_BATCH_BYTES, log_batches
from rexwatch.sdk.exporters.sigv4 import sign
from rexwatch.testing import free_port
from sdk_helpers import log_lines, metric_stats, wait_for


@pytest.fixture(autouse=True)
def _sdk_off():
    # The live server runs in this process: ship only the test's loggers, not the server's own lines.
    handler = rw.RexwatchHandler()
    for name in ("tenants", "jobs", "busy", "forky"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    yield
    for name in ("tenants", "jobs", "busy", "forky"):
        logging.getLogger(name).removeHandler(handler)
    rw.shutdown(5)


def test_logs_and_metrics_reach_the_server_over_rest(live):
    rw.configure(logging_level=None, service="utm-api", endpoint=live.url, namespace="UTM/Application", log_group="/aws/ecs/utm-api",
                 flush_interval=60)
    log = logging.getLogger("tenants")
    log.info("tenant created", extra={"tenant_id": "t-1", "user_id": "u-9"})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed to create tenant")
    for _ in range(1000):
        rw.put_metric("TenantCreated", 1, "Count")
    with rw.timer("APILatency"):
        pass
    assert rw.flush(30)
    lines = wait_for(lambda: log_lines(live.url, "/aws/ecs/utm-api"), what="log lines")
    info = next(x for x in lines if x["message"] == "tenant created")
    assert info["level"] == "INFO" and info["logger"] == "tenants" and info["tenant_id"] == "t-1"
    assert info["timestamp"].endswith("Z") and "request_id" not in info
    error = next(x for x in lines if x["message"] == "failed to create tenant")
    assert error["level"] == "ERROR" and "ValueError: boom" in error["exception"]
    assert info["@stream"] == rw.get().config.log_stream
    # A thousand increments left as one statistic set: exact sum, one datum.
    stats = wait_for(lambda: metric_stats(live.url, "UTM/Application", "TenantCreated"), what="metric")
    assert stats["Sum"] == 1000 and stats["SampleCount"] == 1000
    assert rw.stats()["metrics_sent"] == 2 and rw.stats()["logs_sent"] == 2
    assert wait_for(lambda: metric_stats(live.url, "UTM/Application", "APILatency"))["SampleCount"] == 1


def test_aws_exporter_signs_requests_the_server_accepts(runtime, live):
    before = runtime.settings.auth
    runtime.settings.auth = "on"
    key = runtime.keys.create("sdk", aws=True)
    rw.configure(logging_level=None, service="worker", exporter="aws", endpoint=live.url, log_group="/aws/ecs/utm-worker",
                 aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key,
                 namespace="UTM/Worker", flush_interval=60)
    logging.getLogger("jobs").warning("job retried", extra={"job": "send-invite"})
    rw.put_metric("InvitationSent", 3, "Count", {"Tenant": "acme"})
    assert rw.flush(30), rw.stats()
    runtime.settings.auth = before  # the reads below use no key
    lines = wait_for(lambda: log_lines(live.url, "/aws/ecs/utm-worker"), what="log lines")
    assert lines[0]["message"] == "job retried" and lines[0]["job"] == "send-invite"
    stats = wait_for(lambda: metric_stats(live.url, "UTM/Worker", "InvitationSent", {"Tenant": "acme"}))
    assert stats["Sum"] == 3
    # A wrong secret is refused by the server: the batch fails, is counted, and nothing raises.
    runtime.settings.auth = "on"
    rw.configure(logging_level=None, exporter="aws", endpoint=live.url, aws_access_key_id=key.access_key_id,
                 aws_secret_access_key="wrong" * 8, flush_interval=60)
    rw.put_metric("InvitationSent", 1, "Count")
    assert rw.flush(30) is False
    assert rw.stats()["send_errors"] == 1 and rw.stats()["metrics_failed"] == 1
    assert "InvalidSignatureException" in rw.stats()["last_error"] or "403" in rw.stats()["last_error"]


def test_signature_matches_the_servers_verifier():
    body = b'{"logGroupName":"/a b/c"}'
    headers = sign("POST", "http://127.0.0.1:9099/", {"Content-Type": "application/x-amz-json-1.1",
                                                      "X-Amz-Target": "Logs_20140328.PutLogEvents"},
                   body, access_key="AKID", secret_key="s3cret", region="eu-west-1", service="logs",
                   session_token="tok")
    lower = {k.lower(): v for k, v in headers.items()}
    assert verify("POST", "/", "", lower, body, expected_service="logs",
                  secret_for=lambda k: "s3cret" if k == "AKID" else None) == "AKID"
    assert "x-amz-security-token" in lower["authorization"]


def test_server_down_drops_are_counted_and_the_app_never_waits():
    port = free_port()  # nothing listens here
    rw.configure(logging_level=None, service="app", endpoint=f"http://127.0.0.1:{port}", max_queue=500, batch_size=100,
                 flush_interval=0.05)
    log = logging.getLogger("busy")
    log.propagate = False  # pytest's log capture would hold every record and blur the memory figure
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    worst = 0.0
    for i in range(20_000):
        t = time.perf_counter()
        log.info("line %d", i, extra={"payload": "x" * 200})
        worst = max(worst, time.perf_counter() - t)
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    log.propagate = True
    sender = rw.get().sender
    # Shutdown gives up at its deadline instead of hanging the process's exit.
    t = time.monotonic()
    rw.shutdown(1.0)
    assert time.monotonic() - t < 10  # generous: the deadline is 1 s, a loaded machine may lag
    # Counted only once the sender thread has stopped: mid-round it holds a batch no list shows. It was told
    # to stop; on a loaded machine the round it is in may end after shutdown's deadline, so wait for it.
    assert sender._thread is not None
    sender._thread.join(60)
    assert not sender._thread.is_alive()
    s = sender.stats.as_dict()
    # Everything beyond the bounded buffer is dropped or given up, and counted; memory stays bounded by it.
    held = len(sender._logs) + sum(len(p.items) for p in sender._pending)
    assert held <= 2 * 500
    assert s["logs_dropped"] + s["logs_failed"] + held + s["logs_sent"] == 20_000
    assert s["logs_sent"] == 0
    assert grown < 5_000_000, grown
    assert s["send_errors"] >= 1 and "ConnectionRefusedError" in s["last_error"]


def test_forked_child_sends_its_own_stream_and_not_the_parents_buffer(live):
    rw.configure(logging_level=None, service="forky", endpoint=live.url, log_group="/app/forky", flush_interval=60)
    log = logging.getLogger("forky")
    log.info("parent before fork")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: its sender thread does not exist yet; it must start one and send
        try:
            os.close(r)
            log.info("child line")
            ok = rw.flush(30)
            os.write(w, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        assert f.read() == b"1"
    os.waitpid(pid, 0)
    assert rw.flush(30)
    lines = wait_for(lambda: len(log_lines(live.url, "/app/forky")) >= 2 and log_lines(live.url, "/app/forky"))
    by_msg = {x["message"]: x["@stream"] for x in lines}
    assert by_msg["child line"].endswith(f"/{pid}")
    assert by_msg["parent before fork"].endswith(f"/{os.getpid()}")
    assert [x["message"] for x in lines].count("parent before fork") == 1


def test_log_batches_respect_putlogevents_limits():
    events = [(i, "y" * 100_000) for i in range(30)]
    batches = log_batches(events)
    assert sum(len(b) for b in batches) == 30
    assert all(sum(len(m) + 26 for _, m in b) <= MAX_BATCH_BYTES for b in batches)
    day = 24 * 3600 * 1000
    assert len(log_batches([(0, "a"), (day + 1, "b")])) == 2
    assert len(log_batches([(0, "é" * 300_000)])[0][0][1].encode()) <= 262_144 - 26


def test_exporter_table_and_bad_settings():
    assert set(EXPORTERS) == {"rexwatch", "aws", "emf", "otlp"}
    with pytest.raises(ValueError, match="unknown exporter 'nope'"):
        rw.configure(logging_level=None, exporter="nope")
    with pytest.raises(ValueError, match="aws_access_key_id"):
        rw.configure(logging_level=None, exporter="aws", aws_access_key_id="", aws_secret_access_key="")
    with pytest.raises(TypeError, match="unknown SDK settings: colour"):
        rw.configure(logging_level=None, colour="red")


def test_sdk_modules_import_no_server_library_and_no_other_framework():
    import subprocess
    import sys

    code = """
import sys
BLOCKED = {"chdb", "fastapi", "starlette", "sqlalchemy", "pydantic", "pyarrow", "botocore", "flask", "django",
           "redis", "psycopg", "uvicorn"}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
import rexwatch.sdk, rexwatch.sdk.asgi, rexwatch.sdk.wsgi, rexwatch.sdk.django, rexwatch.sdk.health
import rexwatch.sdk.runtime, rexwatch.sdk.profiling, rexwatch.sdk.exporters.aws, rexwatch.sdk.exporters.rexwatch
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr

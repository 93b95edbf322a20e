"""A fresh server shows its own request log, metrics and health monitor, and none of it feeds back."""

from __future__ import annotations

import datetime as dt
import json
import time

import boto3
import httpx
from botocore.config import Config

from rexwatch.testing import wait_for_tick, wait_until
from rexwatch.workers.selfwatch import RequestBuffer, door

ON = {"REXWATCH_SELF_MONITOR": "true", "REXWATCH_SELF_MONITOR_FLUSH_S": "1",
      "REXWATCH_SELF_MONITOR_HEALTH_INTERVAL_S": "1"}


def _client(service: str, url: str):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="k",
                        aws_secret_access_key="s", config=Config(retries={"max_attempts": 1}, read_timeout=60))


def _sum(cw, name: str, dims=(), stat: str = "Sum") -> float:
    now = dt.datetime.now(dt.UTC)
    r = cw.get_metric_statistics(Namespace="Rexwatch/Server", MetricName=name,
                                 Dimensions=[{"Name": k, "Value": v} for k, v in dims],
                                 StartTime=now - dt.timedelta(minutes=10), EndTime=now + dt.timedelta(minutes=1),
                                 Period=3600, Statistics=[stat])
    return sum(d[stat] for d in r["Datapoints"])


def test_fresh_server_shows_its_own_logs_metrics_and_health(server_process):
    srv = server_process("--workers", "selfwatch,probes", env=ON).start()
    logs, cw = _client("logs", srv.url), _client("cloudwatch", srv.url)
    assert httpx.get(f"{srv.url}/api/v1/nope").status_code == 404
    logs.create_log_group(logGroupName="/app")
    logs.create_log_stream(logGroupName="/app", logStreamName="s")
    now_ms = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/app", logStreamName="s",
                        logEvents=[{"timestamp": now_ms + i, "message": f"m{i}"} for i in range(3)])

    # The request log: one JSON line per request, with what an operator filters on.
    def logged_404():
        events = logs.filter_log_events(logGroupName="/rexwatch/requests",
                                        filterPattern='{ $.status = 404 }')["events"]
        return [json.loads(e["message"]) for e in events]

    [line] = wait_until(logged_404, 120, what="the 404 in the request log")
    assert line["path"] == "/api/v1/nope" and line["method"] == "GET" and line["duration_ms"] >= 0
    assert line["request_id"]
    [group] = logs.describe_log_groups(logGroupNamePrefix="/rexwatch/")["logGroups"]
    assert group["logGroupName"] == "/rexwatch/requests" and group["retentionInDays"] == 7

    # Its metrics: requests by door, errors, latency percentiles and ingest of the user's data only.
    wait_until(lambda: _sum(cw, "ClientErrors") >= 1, 120, what="ClientErrors in Rexwatch/Server")
    # Requests arrive in the next flush if the one with the 404 was cut before them.
    wait_until(lambda: _sum(cw, "Requests") >= 5, 120, what="Requests in Rexwatch/Server")
    wait_until(lambda: _sum(cw, "Requests", [("Door", "aws")]) >= 3, 120, what="the AWS door's Requests")
    assert _sum(cw, "ServerErrors") == 0
    wait_until(lambda: _sum(cw, "LogEventsIngested") >= 3, 120, what="LogEventsIngested")
    now = dt.datetime.now(dt.UTC)
    p99 = cw.get_metric_statistics(Namespace="Rexwatch/Server", MetricName="Latency",
                                   StartTime=now - dt.timedelta(minutes=10), EndTime=now + dt.timedelta(minutes=1),
                                   Period=3600, ExtendedStatistics=["p99"])["Datapoints"]
    assert p99 and p99[0]["ExtendedStatistics"]["p99"] > 0

    # No feedback: flushes of the request log (and of these metrics) are not counted as ingest, however
    # many of them pass; only the user's 3 events are.
    wait_for_tick(srv.url, "selfwatch", 3)
    assert _sum(cw, "LogEventsIngested") == 3

    # The health monitor on itself.
    def self_monitor():
        ms = [m for m in httpx.get(f"{srv.url}/api/v1/monitors").json() if m["name"] == "rexwatch server"]
        return ms and ms[0]["status"] == "up" and ms[0]

    mon = wait_until(self_monitor, 120, what="the self health monitor to be up")
    assert mon["config"]["url"] == f"{srv.url}/health"
    assert srv.stop() == 0


def test_switched_off_it_records_nothing(server_process):
    srv = server_process("--workers", "selfwatch,probes", env={**ON, "REXWATCH_SELF_MONITOR": "false"}).start()
    httpx.get(f"{srv.url}/api/v1/nope")
    wait_for_tick(srv.url, "selfwatch", 2)
    assert _client("logs", srv.url).describe_log_groups()["logGroups"] == []
    assert httpx.get(f"{srv.url}/api/v1/monitors").json() == []
    assert _client("cloudwatch", srv.url).list_metrics(Namespace="Rexwatch/Server")["Metrics"] == []
    assert srv.stop() == 0


def test_request_buffer_is_bounded_and_counts_drops():
    buf = RequestBuffer(limit=100)
    for i in range(250):
        buf("GET", "/x" * 5000, 200, 0.001, "/x", f"r{i}")
    entries, dropped = buf.drain()
    assert len(entries) == 100 and dropped == 150
    assert len(entries[0][2]) == 1024  # hostile paths are cut
    assert buf.drain() == ([], 0)
    assert [door(r) for r in ("aws:PutLogEvents", "/api/v1/monitors", "/health", "/")] == [
        "aws", "api", "system", "web"]

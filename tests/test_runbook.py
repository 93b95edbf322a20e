"""The reference runbook, end to end, against a real ``rexwatch server`` process.

Each step runs the runbook's own command with ``rexwatch`` (or ``aws
--endpoint-url``) in place of ``aws``; applications ship logs and metrics with
boto3 as they would to CloudWatch; mail goes to a real SMTP server.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import httpx
import pytest

from helpers import ServerProcess, run_cli
from notify_helpers import Mailbox, Receiver
from rexwatch.testing import wait_until

pytestmark = pytest.mark.slow

TOPIC = "arn:aws:sns:us-east-1:ACCOUNT:utm-alerts"
GROUPS = ["/aws/ecs/utm-api", "/aws/ecs/utm-worker", "/aws/ecs/utm-frontend", "/aws/rds/utm-db",
          "/aws/elasticache/utm-redis"]


@pytest.fixture(scope="module")
def mailbox():
    box = Mailbox()
    yield box
    box.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, mailbox):
    sp = ServerProcess(tmp_path_factory.mktemp("runbook"), env={
        "REXWATCH_SMTP_HOST": "127.0.0.1", "REXWATCH_SMTP_PORT": str(mailbox.port),
        "REXWATCH_LOG_FORMAT": "json"})
    sp.start()
    yield sp
    assert sp.stop() == 0


def rx(server, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = run_cli("--endpoint", server.url, *args)
    if check:
        assert r.returncode == 0, f"rexwatch {' '.join(args)}\n{r.stderr}"
    return r


def aws(server, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_PAGER": ""}
    aws_bin = str(Path(sys.executable).with_name("aws"))
    r = subprocess.run([aws_bin, "--endpoint-url", server.url, *args], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, f"aws {' '.join(args)}\n{r.stderr}"
    return r


def _client(server, service: str):
    return boto3.client(service, endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x")


def _events(now_ms: int) -> list[dict]:
    events = []
    for i in range(60):
        ts = now_ms - (60 - i) * 1000
        level = "ERROR" if i % 10 == 0 else "INFO"
        duration = 1500 + i if i % 7 == 0 else 20 + i
        msg = {"level": level, "msg": "request", "method": "GET", "path": f"/api/v1/{['tenants', 'users'][i % 2]}",
               "duration": duration, "request_id": f"req-{i}"}
        if i % 5 == 0:
            msg.update(action="login", success=False, user_id=f"u{i % 3}", ip_address="10.0.0.9")
        events.append({"timestamp": ts, "message": json.dumps(msg)})
    return events


def test_log_groups_and_viewing_logs(server):
    for g in GROUPS:
        rx(server, "logs", "create-log-group", "--log-group-name", g)
    listed = json.loads(rx(server, "logs", "describe-log-groups", "--output", "json").stdout)
    assert {g["logGroupName"] for g in listed["logGroups"]} == set(GROUPS)

    logs = _client(server, "logs")
    logs.create_log_stream(logGroupName=GROUPS[0], logStreamName="api-1")
    now_ms = int(time.time() * 1000)
    out = logs.put_log_events(logGroupName=GROUPS[0], logStreamName="api-1", logEvents=_events(now_ms))
    assert "rejectedLogEventsInfo" not in out

    # "Last 1 hour"
    last_hour = rx(server, "logs", "tail", GROUPS[0], "--since", "1h").stdout
    assert last_hour.count("req-") == 60
    # "Filter errors"
    errors = rx(server, "logs", "tail", GROUPS[0], "--since", "1h", "--filter-pattern", "ERROR").stdout
    assert errors.count("req-") == 6 and '"INFO"' not in errors
    # "Specific time range"
    start = dt.datetime.fromtimestamp((now_ms - 30_000) / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = dt.datetime.fromtimestamp(now_ms / 1000 + 1, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ranged = rx(server, "logs", "tail", GROUPS[0], "--start-time", start, "--end-time", end).stdout
    assert 25 <= ranged.count("req-") <= 31
    # "Find slow queries" with a JSON filter pattern, through the real AWS CLI
    slow = json.loads(aws(server, "logs", "filter-log-events", "--log-group-name", GROUPS[0],
                          "--filter-pattern", "{ $.duration > 1000 }").stdout)
    durations = [json.loads(e["message"])["duration"] for e in slow["events"]]
    assert len(durations) == 9 and all(d > 1000 for d in durations)


RUNBOOK_QUERIES = {
    "Find Errors": "fields @timestamp, @message\n| filter @message like /ERROR/\n| sort @timestamp desc\n| limit 100",
    "Slow API Requests": "fields @timestamp, method, path, duration\n| filter duration > 1000\n"
                         "| sort duration desc\n| limit 50",
    "Failed Login Attempts": 'fields @timestamp, user_id, ip_address\n| filter action = "login" and success = false\n'
                             "| stats count() by user_id, ip_address",
    "Request Volume by Endpoint": "fields @timestamp, path\n| stats count() by path\n| sort count desc",
}


def test_insights_queries_as_written(server):
    def query(name: str) -> list[dict]:
        r = rx(server, "logs", "query", "--log-group-name", GROUPS[0], "--since", "1h", "--output", "json",
               RUNBOOK_QUERIES[name])
        return json.loads(r.stdout)

    errors = query("Find Errors")
    assert len(errors) == 6 and all("ERROR" in row["@message"] for row in errors)
    stamps = [row["@timestamp"] for row in errors]
    assert stamps == sorted(stamps, reverse=True)
    slow = query("Slow API Requests")
    assert [float(r["duration"]) for r in slow] == sorted((float(r["duration"]) for r in slow), reverse=True)
    assert len(slow) == 9 and all(float(r["duration"]) > 1000 for r in slow)
    logins = query("Failed Login Attempts")
    assert sum(int(r["count()"]) for r in logins) == 12
    assert {r["ip_address"] for r in logins} == {"10.0.0.9"}
    volume = query("Request Volume by Endpoint")
    assert {r["path"]: int(r["count()"]) for r in volume} == {"/api/v1/tenants": 30, "/api/v1/users": 30}


def test_follow_streams_new_events(server):
    logs = _client(server, "logs")
    logs.create_log_stream(logGroupName=GROUPS[1], logStreamName="worker-1")
    logs.put_log_events(logGroupName=GROUPS[1], logStreamName="worker-1",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "job started id=0"}])
    proc = subprocess.Popen([sys.executable, "-m", "rexwatch", "--endpoint", server.url, "logs", "tail", GROUPS[1],
                             "--follow", "--format", "short"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        # The existing event printed means the first read is done: what comes next arrives by following.
        wait_until(lambda: any("id=0" in ln for ln in lines), 120, what="tail to print the existing event")
        now_ms = int(time.time() * 1000)
        logs.put_log_events(logGroupName=GROUPS[1], logStreamName="worker-1",
                            logEvents=[{"timestamp": now_ms, "message": "job done id=1"},
                                       {"timestamp": now_ms + 1, "message": "job done id=2"}])
        wait_until(lambda: any("id=2" in ln for ln in lines), 60, what="tail --follow to print the new events")
    finally:
        proc.terminate()
        proc.wait(10)
    seen = "".join(lines)
    assert "job done id=1" in seen and "job done id=2" in seen
    assert seen.count("job done id=1") == 1


def test_custom_metrics_and_statistics(server):
    for name, value, unit in (("TenantCreated", 1, "Count"), ("InvitationSent", 1, "Count"),
                              ("APILatency", 120, "Milliseconds"), ("APILatency", 480, "Milliseconds")):
        rx(server, "cloudwatch", "put-metric-data", "--namespace", "UTM/Application", "--metric-name", name,
           "--value", str(value), "--unit", unit)
    now = dt.datetime.now(dt.UTC)
    stats = json.loads(rx(server, "cloudwatch", "get-metric-statistics", "--namespace", "UTM/Application",
                          "--metric-name", "APILatency", "--statistics", "Average", "Maximum", "SampleCount",
                          "--period", "3600", "--start-time", (now - dt.timedelta(hours=1)).isoformat(),
                          "--end-time", (now + dt.timedelta(minutes=5)).isoformat(), "--output", "json").stdout)
    points = stats["Datapoints"]
    assert sum(p["SampleCount"] for p in points) == 2
    assert max(p["Maximum"] for p in points) == 480
    listed = json.loads(rx(server, "cloudwatch", "list-metrics", "--namespace", "UTM/Application",
                           "--output", "json").stdout)
    assert {m["MetricName"] for m in listed["Metrics"]} == {"TenantCreated", "InvitationSent", "APILatency"}


def test_alerts_topic_email_and_alarms(server, mailbox):
    rx(server, "sns", "create-topic", "--name", "utm-alerts")
    rx(server, "sns", "subscribe", "--topic-arn", TOPIC, "--protocol", "email",
       "--notification-endpoint", "ops@yourdomain.com")
    # The subscriber confirms from the mail, as with SNS.
    confirm_mail = mailbox.wait_for(1, timeout=60)[0]
    body = confirm_mail.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://\S+confirm\S+", body).group(0)
    assert httpx.get(link).status_code == 200
    subs = json.loads(rx(server, "sns", "list-subscriptions-by-topic", "--topic-arn", TOPIC,
                         "--output", "json").stdout)["Subscriptions"]
    assert subs[0]["SubscriptionArn"].startswith("arn:aws:sns:")

    alarms = [
        ["--alarm-name", "utm-high-error-rate", "--alarm-description", "API error rate above 5%",
         "--metric-name", "5XXError", "--namespace", "AWS/ApplicationELB", "--statistic", "Sum", "--period", "300",
         "--threshold", "50", "--comparison-operator", "GreaterThanThreshold", "--evaluation-periods", "2"],
        ["--alarm-name", "utm-db-connections-high", "--metric-name", "DatabaseConnections", "--namespace", "AWS/RDS",
         "--dimensions", "Name=DBInstanceIdentifier,Value=utm-db", "--statistic", "Average", "--period", "300",
         "--threshold", "80", "--comparison-operator", "GreaterThanThreshold", "--evaluation-periods", "2"],
        ["--alarm-name", "utm-high-cpu", "--metric-name", "CPUUtilization", "--namespace", "AWS/ECS",
         "--dimensions", "Name=ServiceName,Value=utm-api", "--statistic", "Average", "--period", "300",
         "--threshold", "80", "--comparison-operator", "GreaterThanThreshold", "--evaluation-periods", "3"],
        ["--alarm-name", "utm-unhealthy-targets", "--metric-name", "UnhealthyHostCount",
         "--namespace", "AWS/ApplicationELB", "--dimensions", "Name=TargetGroup,Value=utm-api-tg",
         "--statistic", "Average", "--period", "60", "--threshold", "1",
         "--comparison-operator", "GreaterThanOrEqualToThreshold", "--evaluation-periods", "2"],
    ]
    for a in alarms:
        rx(server, "cloudwatch", "put-metric-alarm", *a, "--alarm-actions", TOPIC)
    described = json.loads(rx(server, "cloudwatch", "describe-alarms", "--output", "json").stdout)
    assert {a["AlarmName"] for a in described["MetricAlarms"]} == {
        "utm-high-error-rate", "utm-db-connections-high", "utm-high-cpu", "utm-unhealthy-targets"}

    # "Test alerts": force a transition and see the mail arrive.
    rx(server, "cloudwatch", "set-alarm-state", "--alarm-name", "utm-high-cpu", "--state-value", "ALARM",
       "--state-reason", "testing the alert path")
    mails = mailbox.wait_for(2, timeout=60)
    alarm_mail = mails[1]
    assert alarm_mail["To"] == "ops@yourdomain.com"
    assert 'ALARM: "utm-high-cpu"' in alarm_mail["Subject"]
    history = json.loads(rx(server, "cloudwatch", "describe-alarm-history", "--alarm-name", "utm-high-cpu",
                            "--output", "json").stdout)["AlarmHistoryItems"]
    assert any(h["HistoryItemType"] == "StateUpdate" for h in history)


def test_receiver_webhook_sees_publish(server):
    receiver = Receiver()
    try:
        rx(server, "sns", "subscribe", "--topic-arn", TOPIC, "--protocol", "http",
           "--notification-endpoint", receiver.url, "--attributes", "SkipConfirmation=true")
        rx(server, "sns", "publish", "--topic-arn", TOPIC, "--subject", "hello", "--message", "test alerts work")
        got = receiver.wait_for(1, timeout=60)
        assert got[0].json["Message"] == "test alerts work"
        assert got[0].json["Type"] == "Notification"
    finally:
        receiver.close()


def test_retention_and_deleting_old_streams(server):
    rx(server, "logs", "put-retention-policy", "--log-group-name", GROUPS[0], "--retention-in-days", "30")
    logs = _client(server, "logs")
    logs.create_log_stream(logGroupName=GROUPS[0], logStreamName="old-stream")
    rx(server, "logs", "delete-log-stream", "--log-group-name", GROUPS[0], "--log-stream-name", "old-stream")
    groups = json.loads(rx(server, "logs", "describe-log-groups", "--log-group-name-prefix", GROUPS[0],
                           "--output", "json").stdout)["logGroups"]
    assert groups[0]["retentionInDays"] == 30
    streams = json.loads(rx(server, "logs", "describe-log-streams", "--log-group-name", GROUPS[0],
                            "--output", "json").stdout)["logStreams"]
    assert "old-stream" not in {s["logStreamName"] for s in streams}
    bad = rx(server, "logs", "put-retention-policy", "--log-group-name", GROUPS[0], "--retention-in-days", "31",
             check=False)
    assert bad.returncode != 0 and "InvalidParameterException" in bad.stderr

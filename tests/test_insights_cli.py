"""``rexwatch logs query`` and the AWS CLI's start-query / get-query-results against a live server."""

from __future__ import annotations

import csv
import io
import json
import time

from helpers import run_cli
from rexwatch.testing import wait_until

GROUP = "/aws/ecs/utm-api"


def cli(live, *args: str):
    return run_cli("--endpoint", live.url, *args)


def _seed(live) -> None:
    logs = live.boto3_client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="s")
    t = int(time.time() * 1000) - 120_000
    logs.put_log_events(logGroupName=GROUP, logStreamName="s", logEvents=[
        {"timestamp": t + i, "message": json.dumps({"path": "/api/users" if i % 2 else "/api/tenants",
                                                    "duration": i * 300})} for i in range(6)])


def test_logs_query_outputs(live) -> None:
    _seed(live)
    q = "fields @timestamp, path\n| stats count() by path\n| sort count desc"
    r = cli(live, "logs", "query", "--log-group-name", GROUP, "--since", "1h", "--output", "json", q)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"path": "/api/tenants", "count()": "3"}, {"path": "/api/users", "count()": "3"}]

    r = cli(live, "logs", "query", "--log-group-name", GROUP, "--output", "csv",
            "fields path, duration | filter duration > 1000 | sort duration desc")
    assert r.returncode == 0, r.stderr
    assert list(csv.reader(io.StringIO(r.stdout))) == [["path", "duration"], ["/api/users", "1500"],
                                                       ["/api/tenants", "1200"]]

    r = cli(live, "logs", "query", "--log-group-name", GROUP, "--output", "table", "stats count() as n")
    assert r.returncode == 0, r.stderr
    assert "┃ n" in r.stdout and "│ 6" in r.stdout
    assert "records matched" in r.stderr


def test_logs_query_errors(live) -> None:
    _seed(live)
    r = cli(live, "logs", "query", "--log-group-name", GROUP, "stats count() by pth | srot x")
    assert r.returncode == 1
    assert "unknown command 'srot'" in r.stderr and "column 24" in r.stderr
    r = cli(live, "logs", "query", "--log-group-name", GROUP, "--since", "whenever", "fields a")
    assert r.returncode == 2


def test_aws_cli_start_query_and_results(live) -> None:
    _seed(live)
    now = int(time.time())
    r = cli(live, "logs", "start-query", "--log-group-name", GROUP, "--start-time", str(now - 3600),
            "--end-time", str(now + 60), "--query-string", "stats max(duration) as slowest")
    assert r.returncode == 0, r.stderr
    qid = json.loads(r.stdout)["queryId"]

    def complete():
        out = json.loads(cli(live, "logs", "get-query-results", "--query-id", qid).stdout)
        return out if out["status"] == "Complete" else None

    out = wait_until(complete, 60, what="the query to complete")
    assert out["results"] == [[{"field": "slowest", "value": "1500"}]]
    r = cli(live, "logs", "stop-query", "--query-id", qid)
    assert json.loads(r.stdout) == {"success": False}

"""The logs CLI: AWS CLI passthrough, tail (with --follow) and export, against a live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pyarrow.dataset as ds
import pytest

from helpers import run_cli
from rexwatch.testing import free_port, wait_until


def now_ms() -> int:
    return int(time.time() * 1000)


def cli(live, *args: str, **kw) -> subprocess.CompletedProcess:
    return run_cli("--endpoint", live.url, *args, **kw)


def test_aws_cli_passthrough_runbook_lines(live):
    r = cli(live, "logs", "create-log-group", "--log-group-name", "/aws/ecs/utm-api")
    assert r.returncode == 0, r.stderr
    r = cli(live, "logs", "put-retention-policy", "--log-group-name", "/aws/ecs/utm-api", "--retention-in-days", "30")
    assert r.returncode == 0, r.stderr
    r = cli(live, "logs", "describe-log-groups", "--log-group-name-prefix", "/aws/ecs")
    groups = json.loads(r.stdout)["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [("/aws/ecs/utm-api", 30)]
    r = cli(live, "logs", "create-log-stream", "--log-group-name", "/aws/ecs/utm-api", "--log-stream-name", "s")
    assert r.returncode == 0, r.stderr
    t = now_ms()
    r = cli(live, "logs", "put-log-events", "--log-group-name", "/aws/ecs/utm-api", "--log-stream-name", "s",
            "--log-events", f"timestamp={t},message=hello ERROR", f"timestamp={t + 1},message=fine")
    assert r.returncode == 0, r.stderr
    r = cli(live, "logs", "filter-log-events", "--log-group-name", "/aws/ecs/utm-api", "--filter-pattern", "ERROR")
    assert [e["message"] for e in json.loads(r.stdout)["events"]] == ["hello ERROR"]
    r = cli(live, "logs", "test-metric-filter", "--filter-pattern", "ERROR", "--log-event-messages", "a ERROR", "b")
    assert [m["eventNumber"] for m in json.loads(r.stdout)["matches"]] == [1]
    r = cli(live, "logs", "put-retention-policy", "--log-group-name", "/aws/ecs/utm-api", "--retention-in-days", "2")
    assert r.returncode != 0 and "InvalidParameterException" in r.stderr
    r = cli(live, "logs", "delete-log-stream", "--log-group-name", "/aws/ecs/utm-api", "--log-stream-name", "s")
    assert r.returncode == 0
    r = cli(live, "logs", "get-log-events", "--log-group-name", "/aws/ecs/utm-api", "--log-stream-name", "s")
    assert r.returncode != 0 and "ResourceNotFoundException" in r.stderr


def _seed(live, group: str, messages: list[tuple[int, str]], stream: str = "web-1") -> None:
    c = live.boto3_client("logs")
    try:
        c.create_log_group(logGroupName=group)
    except c.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        c.create_log_stream(logGroupName=group, logStreamName=stream)
    except c.exceptions.ResourceAlreadyExistsException:
        pass
    c.put_log_events(logGroupName=group, logStreamName=stream,
                     logEvents=[{"timestamp": t, "message": m} for t, m in messages])


def test_tail_since_filter_and_formats(live):
    t = now_ms()
    _seed(live, "/aws/ecs/utm-api", [(t - 2 * 3600_000, "old ERROR"), (t - 30 * 60_000, "half hour ERROR"),
                                     (t - 60_000, "minute INFO"), (t - 30_000, "recent ERROR")])
    r = cli(live, "logs", "tail", "/aws/ecs/utm-api")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [ln.split(" ", 2)[2] for ln in lines] == ["minute INFO", "recent ERROR"]
    assert lines[0].split(" ")[1] == "web-1"
    r = cli(live, "logs", "tail", "/aws/ecs/utm-api", "--since", "1h", "--filter-pattern", "ERROR",
            "--format", "short")
    assert [ln.split(" ", 1)[1] for ln in r.stdout.splitlines()] == ["half hour ERROR", "recent ERROR"]
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((t - 3 * 3600_000) / 1000))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((t - 3600_000) / 1000))
    r = cli(live, "logs", "tail", "/aws/ecs/utm-api", "--start-time", start, "--end-time", end, "--format", "json")
    assert [json.loads(ln)["message"] for ln in r.stdout.splitlines()] == ["old ERROR"]
    _seed(live, "/aws/ecs/utm-api", [(t - 20_000, "from s2")], stream="s2")
    _seed(live, "/aws/ecs/utm-api", [(t - 10_000, "from s3")], stream="s3")
    r = cli(live, "logs", "tail", "/aws/ecs/utm-api", "--log-stream-names", "s2", "s3", "--format", "short")
    assert [ln.split(" ", 1)[1] for ln in r.stdout.splitlines()] == ["from s2", "from s3"]
    r = cli(live, "logs", "tail", "/aws/ecs/utm-api", "--log-stream-name-prefix", "s", "--format", "short")
    assert [ln.split(" ", 1)[1] for ln in r.stdout.splitlines()] == ["from s2", "from s3"]
    r = cli(live, "logs", "tail", "/aws/ecs/utm-api", "--since", "1h", "--filter-pattern", "ERROR", "--color", "on")
    assert "\x1b[31m" in r.stdout and "\x1b[32m" in r.stdout  # errors red, timestamps green
    r = cli(live, "logs", "tail", "/nope")
    assert r.returncode == 1 and "/nope" in r.stderr
    r = cli(live, "logs", "tail", "/aws/ecs/utm-api", "--since", "yesterday-ish")
    assert r.returncode == 2 and "--since" in r.stderr


def test_tail_follow_prints_every_new_event_once(live):
    _seed(live, "/f", [(now_ms() - 1000, "before")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "rexwatch", "--endpoint", live.url, "logs", "tail", "/f", "--follow",
         "--poll-interval", "0.1", "--format", "short"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        wait_until(lambda: lines, 60, what="tail to print the existing event")
        assert lines[0].rstrip().endswith("before")
        sent = []
        for batch in range(6):
            msgs = [(now_ms(), f"new-{batch}-{i}") for i in range(50)]
            _seed(live, "/f", msgs, stream=f"s{batch % 2}")
            sent += [m for _, m in msgs]
            time.sleep(0.05)
        # A last event after all the others: the tail prints in commit order, so once it is out, any
        # event printed twice would be out too.
        _seed(live, "/f", [(now_ms(), "sentinel")], stream="s0")
        wait_until(lambda: any(ln.rstrip().endswith("sentinel") for ln in lines), 60, what="the last event")
        got = [ln.rstrip("\n").split(" ", 1)[1] for ln in lines[1:] if not ln.rstrip().endswith("sentinel")]
        assert sorted(got) == sorted(sent) and len(got) == len(set(got))
    finally:
        proc.terminate()
        proc.wait(10)


def test_export_local_parquet_partitioned(live, tmp_path):
    day = 86_400_000
    t = now_ms()
    base = t - t % day
    _seed(live, "/x", [(base - 3600_000, "yesterday a"), (base - 1800_000, "yesterday b")], stream="a")
    _seed(live, "/x", [(base + 1000, "today a")], stream="a")
    _seed(live, "/x", [(base + 2000, "today b")], stream="b/with/slash")
    out = tmp_path / "out"
    r = cli(live, "--output", "json", "logs", "export", "--log-group-name", "/x", "--from", str(base - day),
            "--to", "now", "--destination", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["events"] == 4
    # One directory per day and stream (a partition may hold several files when results come in batches).
    files = sorted({p.relative_to(out).parts[:2] for p in out.rglob("*.parquet")})
    today = time.strftime("%Y-%m-%d", time.gmtime(base / 1000))
    yday = time.strftime("%Y-%m-%d", time.gmtime((base - day) / 1000))
    assert files == sorted([(f"date={yday}", "log_stream=a"), (f"date={today}", "log_stream=a"),
                            (f"date={today}", "log_stream=b%2Fwith%2Fslash")])
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("message").to_pylist()) == ["today a", "today b", "yesterday a", "yesterday b"]
    meta = next(out.rglob("*.parquet"))
    import pyarrow.parquet as pq

    assert pq.ParquetFile(meta).metadata.row_group(0).column(0).compression == "ZSTD"


@pytest.fixture
def moto_s3():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import httpx

    def up() -> bool:
        assert proc.poll() is None, "the S3 server exited"
        httpx.get(url, timeout=5)
        return True

    wait_until(up, 60, what="the S3 server")
    yield url
    proc.terminate()
    proc.wait(10)


def test_export_to_s3_compatible_endpoint(live, moto_s3):
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1", aws_access_key_id="k",
                      aws_secret_access_key="s")
    s3.create_bucket(Bucket="archive")
    t = now_ms()
    _seed(live, "/aws/ecs/utm-api", [(t - 5000, "one"), (t - 4000, "two")])
    env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_DEFAULT_REGION": "us-east-1"}
    r = cli(live, "--output", "json", "logs", "export", "--log-group-name", "/aws/ecs/utm-api", "--from", "1h",
            "--destination", "s3://archive/logs/utm-api", "--endpoint-url", moto_s3, env=env)
    assert r.returncode == 0, r.stderr
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="archive")["Contents"]]
    today = time.strftime("%Y-%m-%d", time.gmtime((t - 5000) / 1000))
    assert len(keys) == 1 and keys[0].startswith(f"logs/utm-api/date={today}/log_stream=web-1/")
    assert keys[0].endswith(".parquet")

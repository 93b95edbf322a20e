"""The agent against the real PostgreSQL and Redis, a real server, and real files."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis

from rexwatch.agent.config import ConfigError, parse
from rexwatch.agent.logfiles import Tailer
from rexwatch.agent.runner import Agent
from rexwatch.agent.sender import Outcome, Sender
from rexwatch.services.logs import LogsService
from rexwatch.testing import LiveServer, free_port, wait_until
from rexwatch.workers.alarms import AlarmsWorker

PG_DSN = os.environ.get("REXWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test").replace(
    "postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"


def agent_config(tmp_path: Path, endpoint: str, body: str = "") -> str:
    return f"""
[agent]
name = "test-agent"
state_dir = "{tmp_path / 'state'}"
interval_s = 60
[server]
endpoint = "{endpoint}"
{body}
"""


@pytest.fixture
def own_redis(tmp_path: Path):
    """A Redis of the test's own, so eviction limits never touch the shared one."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    wait_until(lambda: _pings(client), deadline=30, what="redis-server to answer")
    yield port, client
    client.close()
    proc.terminate()
    proc.wait(timeout=30)


def _pings(c: redis.Redis) -> bool:
    try:
        return bool(c.ping())
    except redis.ConnectionError:
        return False


def test_config_errors_name_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[host\] has an unknown key 'servce'"):
        parse('[host]\nservce = "x"')
    with pytest.raises(ConfigError, match=r"\[postgres\] needs dsn and instance"):
        parse('[postgres]\ndsn = "postgresql://x"')
    with pytest.raises(ConfigError, match="interval_s must be"):
        parse("[agent]\ninterval_s = 0")
    with pytest.raises(ConfigError, match=r"unknown section \[hosts\]"):
        parse("[hosts]\n")
    with pytest.raises(ConfigError, match="must be str"):
        parse("[host]\nservice = 3")
    cfg = parse(agent_config(tmp_path, "http://127.0.0.1:1"))
    assert cfg.name == "test-agent" and cfg.interval_s == 60.0 and cfg.postgres is None


def test_runbook_metrics_from_real_systems_and_alarms_fire(live: LiveServer, runtime, tmp_path, own_redis) -> None:
    port, rclient = own_redis
    cfg = parse(agent_config(tmp_path, live.url, f"""
[host]
cluster = "utm"
service = "utm-api"
[postgres]
dsn = "{PG_DSN}"
instance = "utm-db"
[redis]
url = "redis://127.0.0.1:{port}/0"
cluster = "utm-redis"
"""))
    agent = Agent(cfg)
    cw = live.boto3_client("cloudwatch")
    # The runbook's alarms, with thresholds a test can cross on a shared machine.
    cw.put_metric_alarm(AlarmName="utm-db-connections-high", MetricName="DatabaseConnections",
                        Namespace="AWS/RDS", Dimensions=[{"Name": "DBInstanceIdentifier", "Value": "utm-db"}],
                        Statistic="Average", Period=60, Threshold=5, ComparisonOperator="GreaterThanThreshold",
                        EvaluationPeriods=1)
    cw.put_metric_alarm(AlarmName="utm-redis-evictions", MetricName="Evictions", Namespace="AWS/ElastiCache",
                        Dimensions=[{"Name": "CacheClusterId", "Value": "utm-redis"}], Statistic="Sum",
                        Period=60, Threshold=0, ComparisonOperator="GreaterThanThreshold", EvaluationPeriods=1)
    cw.put_metric_alarm(AlarmName="utm-high-cpu", MetricName="CPUUtilization", Namespace="AWS/ECS",
                        Dimensions=[{"Name": "ServiceName", "Value": "utm-api"}], Statistic="Average",
                        Period=60, Threshold=-1, ComparisonOperator="GreaterThanThreshold", EvaluationPeriods=1)
    minute = int(time.time() // 60) * 60
    try:
        agent.buffer_metrics(minute - 115)  # baselines for the counters
        conns = [psycopg.connect(PG_DSN) for _ in range(7)]
        try:
            rclient.set("hit", "1")
            for _ in range(5):
                rclient.get("hit")
                rclient.get("miss")
            blob = b"x" * 10_000
            for i in range(600):  # 6 MB into a 2 MB cache: evictions
                rclient.set(f"k{i}", blob)
            agent.buffer_metrics(minute - 55)
        finally:
            for c in conns:
                c.close()
        assert agent.drain() is Outcome.SENT
    finally:
        agent.close()

    def stat(ns: str, name: str, dims: list[dict], how: str) -> float:
        import datetime as dt

        r = cw.get_metric_statistics(Namespace=ns, MetricName=name, Dimensions=dims,
                                     StartTime=dt.datetime.fromtimestamp(minute - 120, dt.UTC),
                                     EndTime=dt.datetime.fromtimestamp(minute, dt.UTC), Period=60,
                                     Statistics=[how])
        return max((p[how] for p in r["Datapoints"]), default=float("nan"))

    rds = [{"Name": "DBInstanceIdentifier", "Value": "utm-db"}]
    cache = [{"Name": "CacheClusterId", "Value": "utm-redis"}]
    assert stat("AWS/RDS", "DatabaseConnections", rds, "Maximum") >= 7
    assert stat("AWS/ElastiCache", "CacheHits", cache, "Sum") >= 5
    assert stat("AWS/ElastiCache", "CacheMisses", cache, "Sum") >= 5
    assert stat("AWS/ElastiCache", "Evictions", cache, "Sum") > 0
    assert stat("AWS/ElastiCache", "CurrItems", cache, "Maximum") > 0
    assert stat("AWS/ECS", "CPUUtilization", [{"Name": "ServiceName", "Value": "utm-api"}], "Average") >= 0
    names = {m["MetricName"] for m in cw.list_metrics(Namespace="AWS/RDS")["Metrics"]}
    assert {"DatabaseConnections", "FreeableMemory", "FreeStorageSpace"} <= names

    AlarmsWorker(runtime).tick(time.time())
    states = {a["AlarmName"]: a["StateValue"] for a in cw.describe_alarms()["MetricAlarms"]}
    assert states == {"utm-db-connections-high": "ALARM", "utm-redis-evictions": "ALARM",
                      "utm-high-cpu": "ALARM"}


def test_reserved_namespaces_stay_closed_to_everyone_but_the_agent(live: LiveServer) -> None:
    import httpx
    from botocore.exceptions import ClientError

    cw = live.boto3_client("cloudwatch")
    with pytest.raises(ClientError) as e:
        cw.put_metric_data(Namespace="AWS/RDS", MetricData=[{"MetricName": "DatabaseConnections", "Value": 1}])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    r = httpx.post(live.url + "/api/v1/metrics/data", json={"namespace": "AWS/RDS", "metric_data": [
        {"metric_name": "DatabaseConnections", "value": 1}]})
    assert r.status_code == 400
    r = httpx.post(live.url + "/api/v1/agent/metrics", json={"agent": "a", "namespace": "AWS/RDS", "metric_data": [
        {"metric_name": "DatabaseConnections", "value": 1, "timestamp": time.time()}]})
    assert r.status_code == 200, r.text
    r = httpx.post(live.url + "/api/v1/agent/metrics", json={"agent": "a", "namespace": "AWS/RDS", "metric_data": [
        {"metric_name": "X", "value": 1, "timestamp": 1e300}]})
    assert r.status_code == 400 and "timestamp" in r.text


def test_files_rotation_multiline_and_checkpoints(tmp_path: Path) -> None:
    from rexwatch.agent.config import FileConfig

    log = tmp_path / "app.log"
    log.write_text("first\nsecond\n")
    state = tmp_path / "state"
    state.mkdir()
    files = [FileConfig(path=str(tmp_path / "*.log"), group="/app", stream="{file}", from_="start",
                        start_pattern=r"^[a-z]")]
    t = Tailer(files, state)
    clock = time.time()
    # With a start pattern the last record may still grow (a traceback being written): it is held
    # until the next record starts or the file has been quiet for a moment.
    assert [x.message for x in t.poll(clock)] == ["first"]
    assert [x.message for x in t.poll(clock + 10)] == ["second"]
    t.commit()
    # A multi-line record is one event; a half-written line waits for its newline.
    with open(log, "a") as f:
        f.write("boom\nTraceback (most recent call last):\n  File \"x\", line 1\nValueError: bad\nthird\npart")
    got = [x.message for x in t.poll(clock + 20)]
    assert got == ['boom\nTraceback (most recent call last):\n  File "x", line 1\nValueError: bad']
    t.commit()
    # Rename rotation: the rest of the old file, then the new file from its start.
    with open(log, "a") as f:
        f.write("ial\n")
    os.rename(log, tmp_path / "app.log.1")
    log.write_text("new-1\n")
    assert [x.message for x in t.poll(clock + 30)] == ["third", "partial"]
    assert [x.message for x in t.poll(clock + 40)] == ["new-1"]
    t.commit()
    now = clock + 50
    # A crash before commit re-reads (at least once); after commit nothing repeats.
    with open(log, "a") as f:
        f.write("new-2\n")

    def settle(tailer: Tailer, at: float) -> list[str]:
        return [x.message for x in tailer.poll(at)] + [x.message for x in tailer.poll(at + 5)]

    assert settle(t, now) == ["new-2"]
    t.close()
    t2 = Tailer(files, state)
    assert settle(t2, now + 10) == ["new-2"]
    t2.commit()
    t2.close()
    t3 = Tailer(files, state)
    assert settle(t3, now + 20) == []
    # Copy-and-truncate rotation: the file shrank, so it is read again from the start.
    log.write_text("after-truncate\n")
    assert settle(t3, now + 30) == ["after-truncate"]
    t3.commit()
    t3.close()


def test_buffer_survives_a_server_outage_and_replays_in_order(runtime, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    dead = f"http://127.0.0.1:{free_port()}"
    cfg = parse(agent_config(tmp_path, dead, f"""
[host]
enabled = false
[[files]]
path = "{log}"
group = "/aws/ecs/utm-api"
stream = "agent"
from = "start"
"""))
    agent = Agent(cfg)
    try:
        for batch in range(5):
            with open(log, "a") as f:
                f.writelines(f"line {batch * 100 + i}\n" for i in range(100))
            assert agent.buffer_files(time.time()) == 1
            assert agent.drain() is Outcome.RETRY
        assert len(agent.spool) == 5 and "cannot reach" in agent.sender.last_error
        # A restarted agent finds its buffer on disk.
        agent.close()
        agent = Agent(cfg)
        assert len(agent.spool) == 5
        with LiveServer(runtime, run_workers=False) as live:
            agent.sender = Sender(parse(agent_config(tmp_path, live.url)).server)
            assert agent.drain() is Outcome.SENT, agent.sender.last_error
            assert len(agent.spool) == 0 and agent.sent == 5
    finally:
        agent.close()
    page = runtime.service(LogsService).get_log_events("/aws/ecs/utm-api", "agent", start_from_head=True,
                                                       limit=1000)
    assert [e.message for e in page.events] == [f"line {i}" for i in range(500)]


def test_buffer_bound_drops_oldest_and_counts(tmp_path: Path) -> None:
    from rexwatch.agent.spool import Spool

    s = Spool(tmp_path / "spool", max_bytes=20_000)
    for i in range(50):
        s.put({"kind": "logs", "i": i, "pad": os.urandom(400).hex()})
    assert s.bytes <= 20_000 and s.dropped > 0 and len(s) + s.dropped == 50
    first = s.peek()
    assert first is not None and first[1]["i"] == s.dropped
    assert Spool(tmp_path / "spool", max_bytes=20_000).dropped == s.dropped


def _pg_log() -> str:
    logs = sorted(glob.glob("/var/log/postgresql/postgresql-*-main.log"))
    assert logs, "PostgreSQL's Debian log file is where the slow-query test reads"
    return logs[-1]


def test_slow_queries_shipped_and_rds_commands_answer(live: LiveServer, tmp_path: Path) -> None:
    marker = f"slow-{uuid.uuid4().hex[:8]}"
    cfg = parse(agent_config(tmp_path, live.url, f"""
[host]
enabled = false
[[files]]
path = "{_pg_log()}"
group = "/aws/rds/instance/utm-db/postgresql"
stream = "slowquery/postgresql.log"
format = "postgres"
"""))
    agent = Agent(cfg)
    try:
        agent.buffer_files(time.time())  # from the end: only what follows
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute("SET log_min_duration_statement = 50")
            conn.execute(f"SELECT pg_sleep(0.2), '{marker}'")
            conn.execute("SELECT 1")  # a following line lets the slow record complete

        def shipped() -> bool:
            agent.buffer_files(time.time() + 5)
            agent.drain()
            groups = [g.name for g in live.runtime.service(LogsService).describe_log_groups(
                prefix="/aws/rds/instance/utm-db")[0]]
            if not groups:
                return False
            events = live.runtime.service(LogsService).filter_log_events(
                ["/aws/rds/instance/utm-db/postgresql"], pattern=f'"{marker}"').events
            return bool(events)

        wait_until(shipped, deadline=60, what="the slow query to be shipped")
    finally:
        agent.close()
    events = live.runtime.service(LogsService).filter_log_events(
        ["/aws/rds/instance/utm-db/postgresql"], pattern=f'"{marker}"').events
    doc = json.loads(events[0].message)
    assert doc["duration_ms"] >= 200 and marker in doc["statement"] and doc["level"] == "LOG"

    def cli(*args: str) -> dict:
        out = subprocess.run([sys.executable, "-m", "rexwatch", "--endpoint", live.url, *args],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    files = cli("rds", "describe-db-log-files", "--db-instance-identifier", "utm-db")["DescribeDBLogFiles"]
    assert [f["LogFileName"] for f in files] == ["slowquery/postgresql.log"] and files[0]["Size"] >= 0
    portion = cli("rds", "download-db-log-file-portion", "--db-instance-identifier", "utm-db",
                  "--log-file-name", "slowquery/postgresql.log")
    assert marker in portion["LogFileData"] and "duration:" in portion["LogFileData"]
    assert portion["Marker"]

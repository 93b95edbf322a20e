"""CloudWatch Logs over the AWS door with boto3 as the client."""

from __future__ import annotations

import time

import botocore.exceptions
import pytest


def _code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response["Error"]["Code"]


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def logs(live):
    return live.boto3_client("logs")


def test_put_filter_get_roundtrip(logs):
    logs.create_log_group(logGroupName="/aws/ecs/utm-api")
    logs.create_log_stream(logGroupName="/aws/ecs/utm-api", logStreamName="task-1")
    t = now_ms() - 60_000
    events = [{"timestamp": t + i, "message": f'{{"level": "{"ERROR" if i % 3 == 0 else "INFO"}", "i": {i}}}'}
              for i in range(30)]
    r = logs.put_log_events(logGroupName="/aws/ecs/utm-api", logStreamName="task-1", logEvents=events)
    assert "rejectedLogEventsInfo" not in r
    assert r["nextSequenceToken"]

    got = logs.filter_log_events(logGroupName="/aws/ecs/utm-api", filterPattern="ERROR")
    assert [e["message"] for e in got["events"]] == [e["message"] for e in events if "ERROR" in e["message"]]
    assert all(e["logStreamName"] == "task-1" for e in got["events"])

    # Paging with a small limit returns each event once, in order.
    seen, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = logs.filter_log_events(logGroupName="/aws/ecs/utm-api", limit=7, **kw)
        seen += [e["timestamp"] for e in page["events"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == [e["timestamp"] for e in events]

    head = logs.get_log_events(logGroupName="/aws/ecs/utm-api", logStreamName="task-1", startFromHead=True,
                               limit=10)
    assert [e["timestamp"] for e in head["events"]] == [t + i for i in range(10)]
    nxt = logs.get_log_events(logGroupName="/aws/ecs/utm-api", logStreamName="task-1",
                              nextToken=head["nextForwardToken"], limit=10)
    assert [e["timestamp"] for e in nxt["events"]] == [t + i for i in range(10, 20)]
    tail = logs.get_log_events(logGroupName="/aws/ecs/utm-api", logStreamName="task-1", limit=5)
    assert [e["timestamp"] for e in tail["events"]] == [t + i for i in range(25, 30)]
    back = logs.get_log_events(logGroupName="/aws/ecs/utm-api", logStreamName="task-1",
                               nextToken=tail["nextBackwardToken"], limit=5)
    assert [e["timestamp"] for e in back["events"]] == [t + i for i in range(20, 25)]
    end = logs.get_log_events(logGroupName="/aws/ecs/utm-api", logStreamName="task-1",
                              nextToken=tail["nextForwardToken"])
    assert end["events"] == [] and end["nextForwardToken"] == tail["nextForwardToken"]


def test_groups_and_streams_describe_and_errors(logs):
    for name in ("/aws/ecs/utm-api", "/aws/ecs/utm-worker", "/aws/rds/utm-db"):
        logs.create_log_group(logGroupName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.create_log_group(logGroupName="/aws/ecs/utm-api")
    assert _code(e.value) == "ResourceAlreadyExistsException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.create_log_group(logGroupName="bad name!")
    assert _code(e.value) == "InvalidParameterException"
    assert "logGroupName" in str(e.value)

    got = logs.describe_log_groups(logGroupNamePrefix="/aws/ecs/")["logGroups"]
    assert [g["logGroupName"] for g in got] == ["/aws/ecs/utm-api", "/aws/ecs/utm-worker"]
    page1 = logs.describe_log_groups(limit=2)
    page2 = logs.describe_log_groups(limit=2, nextToken=page1["nextToken"])
    assert [g["logGroupName"] for g in page1["logGroups"] + page2["logGroups"]] == [
        "/aws/ecs/utm-api", "/aws/ecs/utm-worker", "/aws/rds/utm-db"]
    assert "nextToken" not in page2
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePattern="WORK")["logGroups"]] == [
        "/aws/ecs/utm-worker"]

    logs.create_log_stream(logGroupName="/aws/ecs/utm-api", logStreamName="b")
    logs.create_log_stream(logGroupName="/aws/ecs/utm-api", logStreamName="a")
    t = now_ms()
    logs.put_log_events(logGroupName="/aws/ecs/utm-api", logStreamName="b",
                        logEvents=[{"timestamp": t - 5000, "message": "x" * 10}])
    logs.put_log_events(logGroupName="/aws/ecs/utm-api", logStreamName="a",
                        logEvents=[{"timestamp": t - 9000, "message": "y"}])
    streams = logs.describe_log_streams(logGroupName="/aws/ecs/utm-api")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["a", "b"]
    by_time = logs.describe_log_streams(logGroupName="/aws/ecs/utm-api", orderBy="LastEventTime",
                                        descending=True)["logStreams"]
    assert [s["logStreamName"] for s in by_time] == ["b", "a"]
    assert by_time[0]["lastEventTimestamp"] == t - 5000 and by_time[0]["storedBytes"] == 36

    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.put_log_events(logGroupName="/aws/ecs/utm-api", logStreamName="nope",
                            logEvents=[{"timestamp": t, "message": "x"}])
    assert _code(e.value) == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.filter_log_events(logGroupName="/nope")
    assert _code(e.value) == "ResourceNotFoundException"

    # Deleting a stream hides its events at once; recreating it starts empty.
    logs.delete_log_stream(logGroupName="/aws/ecs/utm-api", logStreamName="b")
    assert [e["logStreamName"] for e in logs.filter_log_events(logGroupName="/aws/ecs/utm-api")["events"]] == ["a"]
    logs.create_log_stream(logGroupName="/aws/ecs/utm-api", logStreamName="b")
    assert len(logs.filter_log_events(logGroupName="/aws/ecs/utm-api")["events"]) == 1
    # Deleting and recreating a group: no old events come back.
    logs.delete_log_group(logGroupName="/aws/ecs/utm-api")
    logs.create_log_group(logGroupName="/aws/ecs/utm-api")
    assert logs.filter_log_events(logGroupName="/aws/ecs/utm-api")["events"] == []


def test_put_log_events_limits_and_partial_acceptance(logs):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    now = now_ms()
    day = 86_400_000
    r = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": now - 14 * day - 7200_000, "message": "too old"},
        {"timestamp": now - 14 * day - 3600_000, "message": "too old 2"},
        {"timestamp": now - 13 * day - 4 * 3600_000, "message": "ok"},
    ])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2}
    r = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": now, "message": "ok2"},
        {"timestamp": now + 3 * 3600_000, "message": "too new"},
    ])
    assert r["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    logs.put_retention_policy(logGroupName="g", retentionInDays=1)
    r = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": now - day - 600_000, "message": "expired"},
        {"timestamp": now - 23 * 3600_000, "message": "ok3"}])
    assert r["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    # The retention of 1 day now hides "ok" (13 days old) from every read at once.
    msgs = [e["message"] for e in logs.filter_log_events(logGroupName="g")["events"]]
    assert msgs == ["ok3", "ok2"]
    logs.delete_retention_policy(logGroupName="g")
    msgs = [e["message"] for e in logs.filter_log_events(logGroupName="g")["events"]]
    assert msgs == ["ok", "ok3", "ok2"]

    def bad(events, needle):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=events)
        assert _code(e.value) == "InvalidParameterException"
        assert needle in e.value.response["Error"]["Message"]

    bad([{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}], "chronological")
    bad([{"timestamp": now - 25 * 3600_000, "message": "a"}, {"timestamp": now, "message": "b"}], "24 hours")
    bad([{"timestamp": now, "message": "x"}] * 10_001, "10000")
    bad([{"timestamp": now, "message": "x" * 200_000}] * 6, "1048576")

    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.put_retention_policy(logGroupName="g", retentionInDays=2)
    assert _code(e.value) == "InvalidParameterException"
    assert "retentionInDays" in str(e.value)


def test_malformed_filter_pattern_is_aws_shaped(logs):
    logs.create_log_group(logGroupName="g")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.filter_log_events(logGroupName="g", filterPattern='"unclosed')
    assert _code(e.value) in ("InvalidParameterException", "MalformedQueryException")
    assert "column" in e.value.response["Error"]["Message"]

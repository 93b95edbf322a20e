"""Name prefixes are case-sensitive, as in AWS, on SQLite (where LIKE is not) and PostgreSQL."""

from __future__ import annotations

from rexwatch.testing import LiveServer


def test_log_group_and_stream_prefixes_are_case_sensitive(live: LiveServer) -> None:
    logs = live.boto3_client("logs")
    for name in ("/aws/ecs/api", "/AWS/ecs/other", "/aws/ECS/x", "/aws/ecs_x"):
        logs.create_log_group(logGroupName=name)
    got = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/aws/ecs")["logGroups"]]
    assert got == ["/aws/ecs/api", "/aws/ecs_x"]
    # LIKE wildcards in a prefix are literal characters.
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/aws/ecs_")["logGroups"]] == [
        "/aws/ecs_x"]
    for s in ("Web-1", "web-2"):
        logs.create_log_stream(logGroupName="/aws/ecs/api", logStreamName=s)
    streams = logs.describe_log_streams(logGroupName="/aws/ecs/api", logStreamNamePrefix="web")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["web-2"]

"""The real CLI against a live server: monitors (incl. apply FILE, TOML and YAML) and target-groups."""

from __future__ import annotations

import json

from helpers import run_cli


def cli(live, *args: str):
    return run_cli("--endpoint", live.url, *args)


def ok(result) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip().startswith(("{", "[")) else result.stdout


def test_monitors_cli(live, tmp_path):
    m = ok(cli(live, "--output", "json", "monitors", "create", "--name", "api", "--url",
               "http://127.0.0.1:1/health", "--interval", "5m", "--retries", "2", "--keyword", "healthy",
               "--set", "max_response_ms=800", "--topic", "utm-alerts"))
    assert m["interval"] == 300 and m["config"]["max_response_ms"] == 800 and m["topics"] == ["utm-alerts"]
    rows = ok(cli(live, "monitors", "list"))
    assert [(r["name"], r["status"]) for r in rows] == [("api", "pending")]
    assert ok(cli(live, "monitors", "get", "api"))["config"]["keyword"] == "healthy"
    assert ok(cli(live, "--output", "json", "monitors", "update", "api", "--interval", "1m"))["interval"] == 60
    assert ok(cli(live, "--output", "json", "monitors", "pause", "api"))["status"] == "paused"
    assert ok(cli(live, "--output", "json", "monitors", "resume", "api"))["status"] == "pending"
    h = ok(cli(live, "monitors", "history", "api", "--since", "1h"))
    assert h["results"] == [] and h["incidents"] == []

    bad = cli(live, "monitors", "create", "--name", "x", "--url", "ftp://nope")
    assert bad.returncode == 1 and "http:// or https://" in bad.stderr and "Traceback" not in bad.stderr
    assert cli(live, "monitors", "get", "nope").returncode == 1

    toml = tmp_path / "monitors.toml"
    toml.write_text('''
[[monitors]]
name = "api"
url = "http://127.0.0.1:1/health"
interval = "5m"
retries = 2
keyword = "healthy"
max_response_ms = 800
topics = ["utm-alerts"]

[[monitors]]
name = "frontend"
url = "http://127.0.0.1:1/"
interval = "5m"
''')
    first = ok(cli(live, "--output", "json", "monitors", "apply", str(toml)))
    assert first["created"] == ["frontend"] and first["updated"] == ["api"]
    again = ok(cli(live, "--output", "json", "monitors", "apply", str(toml)))
    assert again["created"] == again["updated"] == [] and sorted(again["unchanged"]) == ["api", "frontend"]

    yaml_file = tmp_path / "monitors.yaml"
    yaml_file.write_text("monitors:\n  - name: backup\n    type: push\n    interval: 1h\n    grace_s: 300\n")
    out = ok(cli(live, "--output", "json", "monitors", "apply", "--prune", str(yaml_file)))
    assert out["created"] == ["backup"] and sorted(out["deleted"]) == ["api", "frontend"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("monitors: [name: x\n")
    res = cli(live, "monitors", "apply", str(broken))
    assert res.returncode == 1 and "not valid YAML" in res.stderr
    assert ok(cli(live, "--output", "json", "monitors", "delete", "backup"))["name"] == "backup"
    assert ok(cli(live, "monitors", "list")) == []


def test_target_groups_cli(live):
    g = ok(cli(live, "target-groups", "create", "--name", "utm-api", "--protocol", "HTTP", "--port", "8080",
               "--health-check-path", "/health", "--matcher", "HttpCode=200",
               "--health-check-interval-seconds", "30", "--health-check-timeout-seconds", "5",
               "--healthy-threshold-count", "2", "--unhealthy-threshold-count", "3"))["TargetGroups"][0]
    arn = g["TargetGroupArn"]
    assert g["HealthCheckPath"] == "/health" and g["HealthyThresholdCount"] == 2 and g["Matcher"] == {"HttpCode": "200"}
    ok(cli(live, "target-groups", "register-targets", "--target-group-arn", arn,
           "--targets", "Id=10.0.1.5,Port=8080", "Id=10.0.1.6"))
    health = ok(cli(live, "target-groups", "describe-target-health", "--target-group-arn", arn))
    states = [(d["Target"]["Id"], d["TargetHealth"]["State"]) for d in health["TargetHealthDescriptions"]]
    assert states == [("10.0.1.5", "initial"), ("10.0.1.6", "initial")]
    ok(cli(live, "target-groups", "deregister-targets", "--target-group-arn", arn, "--targets", "Id=10.0.1.6"))
    one = ok(cli(live, "target-groups", "describe-target-health", "--target-group-arn", arn,
                 "--targets", "Id=10.0.1.6"))
    assert one["TargetHealthDescriptions"][0]["TargetHealth"]["Reason"] == "Target.NotRegistered"
    res = cli(live, "target-groups", "register-targets", "--target-group-arn", arn, "--targets", "Port=80")
    assert res.returncode == 1 and "needs an Id" in res.stderr
    res = cli(live, "target-groups", "describe-target-health", "--target-group-arn", "nope")
    assert res.returncode == 1 and "does not exist" in res.stderr
    assert len(ok(cli(live, "target-groups", "describe-target-groups"))["TargetGroups"]) == 1

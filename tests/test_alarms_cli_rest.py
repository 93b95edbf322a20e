"""Alarms over REST and rexwatch's own alarm commands through the real CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import time

from helpers import run_cli
from rexwatch.services.alarms import AlarmDefinition, AlarmsService
from rexwatch.services.metrics import MetricDatum, MetricsService

CPU = {
    "MetricName": "CPUUtilization",
    "Namespace": "UTM/Application",
    "Statistic": "Average",
    "Period": 60,
    "Threshold": 80,
    "ComparisonOperator": "GreaterThanThreshold",
    "EvaluationPeriods": 2,
}


def cpu_definition(name: str, description: str | None = None) -> AlarmDefinition:
    """``CPU`` for the service (the REST body above uses PutMetricAlarm's names)."""
    return AlarmDefinition(
        name=name,
        metric_name="CPUUtilization",
        namespace="UTM/Application",
        statistic="Average",
        period=60,
        threshold=80,
        comparison_operator="GreaterThanThreshold",
        evaluation_periods=2,
        description=description,
    )


def test_rest_alarm_lifecycle(client):
    r = client.put("/api/v1/alarms/utm-high-cpu", json=CPU)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "INSUFFICIENT_DATA" and r.json()["type"] == "MetricAlarm"
    r = client.put("/api/v1/alarms/bad", json={**CPU, "Period": 7})
    assert r.status_code == 400 and r.json()["error"]["field"] == "Period"
    r = client.post("/api/v1/alarms/utm-high-cpu/state", json={"state": "ALARM", "reason": "test"})
    assert r.json()["state"] == "ALARM"
    r = client.post("/api/v1/alarms/utm-high-cpu/ack", json={"by": "alice", "reason": "on it"})
    assert r.json()["acknowledged"]["by"] == "alice"
    r = client.put("/api/v1/alarms/utm-high-cpu/renotify", json={"interval_seconds": 30})
    assert r.status_code in (400, 422)
    r = client.put("/api/v1/alarm-mutes/deploy", json={"alarm_names": ["utm-high-cpu"], "duration": "PT1H"})
    assert r.json()["status"] == "ACTIVE"
    assert client.get("/api/v1/alarms/utm-high-cpu").json()["muted_by"] == ["deploy"]
    hist = client.get("/api/v1/alarms/utm-high-cpu/history").json()["items"]
    assert [h["item_type"] for h in hist][:2] == ["Action", "StateUpdate"]
    assert (
        client.get("/api/v1/alarms", params={"state": "ALARM"}).json()["alarms"][0]["name"] == "utm-high-cpu"
    )
    assert client.delete("/api/v1/alarm-mutes/deploy").status_code == 204
    assert client.delete("/api/v1/alarms/utm-high-cpu").status_code == 204
    assert client.get("/api/v1/alarms/utm-high-cpu").status_code == 404


def test_native_cli_backtest_mute_and_ack(runtime, live):
    env = {**os.environ, "REXWATCH_ENDPOINT": live.url}
    svc = runtime.service(AlarmsService)
    svc.put_metric_alarm(cpu_definition("utm-high-cpu"))
    minute = int(time.time() // 60) * 60
    values = [50, 90, 95, 40, 30]
    start = minute - 60 * len(values)
    runtime.service(MetricsService).put_metric_data(
        "UTM/Application",
        [
            MetricDatum("CPUUtilization", [], dt.datetime.fromtimestamp(start + 60 * i + 1, dt.UTC), float(v))
            for i, v in enumerate(values)
        ],
    )
    r = run_cli(
        "--output",
        "json",
        "cloudwatch",
        "backtest-alarm",
        "--alarm-name",
        "utm-high-cpu",
        "--since",
        "10m",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    moves = [(t["old"], t["new"]) for t in json.loads(r.stdout)["transitions"]]
    assert moves == [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM"), ("ALARM", "OK")]

    r = run_cli(
        "--output",
        "json",
        "cloudwatch",
        "mute-alarm",
        "--alarm-name",
        "utm-high-cpu",
        "--duration",
        "2h",
        "--reason",
        "deploy",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    rule = json.loads(r.stdout)
    assert rule["status"] == "ACTIVE" and rule["duration"] == "PT2H" and rule["name"] == "mute-utm-high-cpu"
    r = run_cli(
        "cloudwatch",
        "mute-alarm",
        "--alarm-name",
        "x",
        "--duration",
        "1h",
        "--schedule",
        "cron(0 2 * *)",
        env=env,
    )
    assert r.returncode == 1 and "5 fields" in r.stderr

    r = run_cli("cloudwatch", "ack-alarm", "--alarm-name", "utm-high-cpu", "--by", "bob", env=env)
    assert r.returncode == 1 and "only an alarm in ALARM can be acknowledged" in r.stderr
    svc.set_alarm_state("utm-high-cpu", "ALARM", "test")
    r = run_cli(
        "cloudwatch",
        "ack-alarm",
        "--alarm-name",
        "utm-high-cpu",
        "--by",
        "bob",
        "--reason",
        "looking",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["acknowledged"]["by"] == "bob"  # piped output is JSON
    r = run_cli(
        "cloudwatch", "set-alarm-renotify", "--alarm-name", "utm-high-cpu", "--interval", "30m", env=env
    )
    assert r.returncode == 0 and json.loads(r.stdout)["renotify_interval"] == 1800
    r = run_cli("cloudwatch", "unmute-alarm", "--name", "mute-utm-high-cpu", env=env)
    assert r.returncode == 0
    assert svc.get("utm-high-cpu").muted_by == []


def test_alarm_pages(runtime, client):
    svc = runtime.service(AlarmsService)
    svc.put_metric_alarm(cpu_definition("utm-high-cpu", "CPU above 80%"))
    svc.put_metric_alarm(cpu_definition("utm-db-connections-high"))
    svc.set_alarm_state("utm-high-cpu", "ALARM", "Threshold Crossed: test")
    svc.mute(["utm-high-cpu"], duration="PT1H", name="deploy")
    r = client.get("/alarms")
    assert r.status_code == 200
    body = r.text
    assert body.index("utm-high-cpu") < body.index("utm-db-connections-high")  # ALARM first
    assert "muted (deploy)" in body
    r = client.get("/alarms?state=INSUFFICIENT_DATA")
    rows = r.text.split("<tbody>")[1].split("</tbody>")[0]  # the list only: the create form names alarms too
    assert "utm-db-connections-high" in rows and "utm-high-cpu" not in rows
    r = client.get("/alarms/utm-high-cpu")
    assert r.status_code == 200
    assert "Threshold Crossed: test" in r.text and "CPU above 80%" in r.text
    assert "Alarm updated from INSUFFICIENT_DATA to ALARM" in r.text
    assert client.get("/alarms/nope").status_code == 404


def test_alarm_pages_need_a_key_when_auth_is_on(runtime, client):
    runtime.settings.auth = "on"
    assert client.get("/alarms").status_code == 401
    key = runtime.keys.create("ui")
    assert client.get("/alarms", headers={"Authorization": f"Bearer {key.token}"}).status_code == 200


def test_rest_alarm_body_is_typed_and_math_alarms_round_trip(client):
    r = client.put("/api/v1/alarms/bad-type", json={**CPU, "Period": "five minutes"})
    assert r.status_code == 400 and "Period" in r.text
    r = client.put("/api/v1/alarms/bad-dims", json={**CPU, "Dimensions": [{"Name": "Host"}]})
    assert r.status_code == 400 and "Value" in r.text
    body = {
        "Metrics": [
            {
                "Id": "e",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "UTM/Application",
                        "MetricName": "5XXError",
                        "Dimensions": [{"Name": "Service", "Value": "api"}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {"Id": "rate", "Expression": "e * 100", "Label": "rate"},
        ],
        "EvaluationPeriods": 2,
        "Threshold": 5,
        "ComparisonOperator": "GreaterThanThreshold",
        "AlarmActions": ["arn:aws:sns:us-east-1:000000000000:utm-alerts"],
    }
    r = client.put("/api/v1/alarms/error-rate", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["config"]["metrics"] == [*body["Metrics"][:1], {**body["Metrics"][1], "ReturnData": True}]
    assert got["config"]["period"] == 60 and got["alarm_actions"] == body["AlarmActions"]
    assert got["evaluation_error"] is None
    page = client.get("/alarms/error-rate")
    assert page.status_code == 200 and "e * 100" in page.text

"""U+0000 in text: PostgreSQL cannot store it, so a request carrying one in anything the control store
keeps is refused with a 400 naming the column on both control stores alike (it was a 500 on
PostgreSQL), and a log value carrying one cannot stop a log alarm from evaluating."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rexwatch.api.app import create_app
from rexwatch.services.alarms import AlarmsService
from rexwatch.testing import make_runtime
from test_log_alarms import brute_force, failed_logins, wait_stored

LOGS = "application/x-amz-json-1.1"


@pytest.fixture
def nul_client(control_url: str, tmp_path: Path, chdb_engine):
    rt = make_runtime(tmp_path / "data", chdb_engine, control_url=control_url, workers="none")
    with TestClient(create_app(rt, run_workers=False), raise_server_exceptions=False) as c:
        yield c
    rt.close(close_stores=False)
    rt.telemetry.drop_database()
    rt.control.dispose()


def test_nul_in_control_text_is_a_400_on_both_stores(nul_client):
    c = nul_client
    r = c.post("/", json={"name": "a\x00b", "queryString": "fields @message"},
               headers={"X-Amz-Target": "Logs_20140328.PutQueryDefinition", "Content-Type": LOGS})
    assert r.status_code == 400, r.text
    assert r.json()["__type"] == "InvalidParameterException"
    assert "name must not contain the NUL character" in r.json()["message"]

    r = c.post("/", data={"Action": "PutMetricAlarm", "Version": "2010-08-01", "AlarmName": "al",
                          "AlarmDescription": "d\x00", "MetricName": "m", "Namespace": "n", "Statistic": "Sum",
                          "Period": "60", "EvaluationPeriods": "1", "Threshold": "1",
                          "ComparisonOperator": "GreaterThanThreshold"})
    assert r.status_code == 400, r.text
    assert "NUL character" in r.text and "InternalFailure" not in r.text

    r = c.post("/api/v1/monitors", json={"name": "m\x00", "type": "http", "url": "http://127.0.0.1:1/"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["message"] == "name must not contain the NUL character (U+0000)"

    # Nothing half-written: the same names without the NUL work, and the refused ones are absent.
    r = c.post("/api/v1/monitors", json={"name": "m", "type": "http", "url": "http://127.0.0.1:1/"})
    assert r.status_code in (200, 201), r.text
    names = [m["name"] for m in c.get("/api/v1/monitors").json()]
    assert names == ["m"]


def test_a_nul_in_a_log_value_does_not_stop_a_log_alarm(control_url, tmp_path, chdb_engine):
    rt = make_runtime(tmp_path / "data", chdb_engine, control_url=control_url, workers="none")
    try:
        svc = rt.service(AlarmsService)
        svc.put_log_alarm(brute_force())
        now = float(math.ceil(time.time() / 300) * 300)
        t0 = int(now * 1000) - 200_000
        failed_logins(rt, t0, "203.0.113.7\x00evil", 6)
        wait_stored(rt, 6, t0 - 1000, t0 + 10_000)
        report = svc.evaluate_due(now)
        assert report.failed == {}
        a = svc.get_log_alarm("brute-force")
        assert a.state_value == "ALARM" and a.evaluation_error in (None, "")
        assert [k.key for k in svc.log_alarm_keys("brute-force")] == ["203.0.113.7\ufffdevil"]
        assert json.loads(a.state_reason_data)["offendingRows"][0]["ip_address"] == "203.0.113.7\ufffdevil"
    finally:
        rt.close(close_stores=False)
        rt.telemetry.drop_database()
        rt.control.dispose()

"""The runbook's alarms, written against load-balancer metrics, fire on a FastAPI app instrumented with the SDK.

The app runs in its own process (uvicorn) and sends to a live server; the alarms
are created with the runbook's own ``put-metric-alarm`` arguments, with only the
namespace changed (AWS reserves ``AWS/`` namespaces for its own services) and the
runbook's ``5XXError`` spelled as the load balancer spells it,
``HTTPCode_Target_5XX_Count``. The alarms worker's tick runs at the end of the
period the traffic fell in, as the worker would five minutes later, and the
ALARM notification reaches a real HTTP subscriber.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from helpers import run_cli
from notify_helpers import Receiver, deliver_all
from rexwatch.workers.alarms import AlarmsWorker
from sdk_helpers import metric_stats, wait_for

pytestmark = pytest.mark.slow
PERIOD = 300


def _alarm(live, *args: str) -> None:
    r = run_cli("--endpoint", live.url, "cloudwatch", "put-metric-alarm", *args)
    assert r.returncode == 0, r.stderr


def _state(live, name: str) -> dict:
    r = run_cli("--endpoint", live.url, "--output", "json", "cloudwatch", "describe-alarms", "--alarm-names", name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["MetricAlarms"][0]


def test_runbook_alarms_fire_on_the_sdks_request_metrics(runtime, live, app_factory):
    hook = Receiver()
    try:
        sns = live.boto3_client("sns")
        topic = sns.create_topic(Name="utm-alerts")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url, Attributes={"SkipConfirmation": "true"})
        app = app_factory("fastapi", live.url)
        ns = f"Test/{app.service}"
        common = ["--namespace", ns, "--alarm-actions", topic]
        # The runbook's "High Error Rate", as written but for the namespace and the metric's ALB name.
        _alarm(live, "--alarm-name", "utm-high-error-rate", "--alarm-description", "API error rate above 5%",
               "--metric-name", "HTTPCode_Target_5XX_Count", "--statistic", "Sum", "--period", str(PERIOD),
               "--threshold", "50", "--comparison-operator", "GreaterThanThreshold", "--evaluation-periods", "2",
               *common)
        # The error rate itself: every request counts 0 or 1, so Average is the share of 5xx.
        _alarm(live, "--alarm-name", "utm-error-share", "--metric-name", "HTTPCode_Target_5XX_Count",
               "--statistic", "Average", "--period", str(PERIOD), "--threshold", "0.05",
               "--comparison-operator", "GreaterThanThreshold", "--evaluation-periods", "1", *common)
        # Latency as an ALB alarm has it: p99 of TargetResponseTime, per service.
        service = ["--dimensions", f"Name=Service,Value={app.service}"]
        _alarm(live, "--alarm-name", "utm-p99-slow", "--metric-name", "TargetResponseTime",
               "--extended-statistic", "p99", "--period", str(PERIOD), "--threshold", "0.5",
               "--comparison-operator", "GreaterThanThreshold", "--evaluation-periods", "1", *service, *common)
        _alarm(live, "--alarm-name", "utm-average-slow", "--metric-name", "TargetResponseTime",
               "--statistic", "Average", "--period", str(PERIOD), "--threshold", "0.5",
               "--comparison-operator", "GreaterThanThreshold", "--evaluation-periods", "1", *service, *common)

        # All traffic within one period, so the tick below sees it as one datapoint: if the period
        # ends within 60 s, start after it (a bounded poll of the clock). Some 200 requests, 2 s of
        # them slept, and the app's last send take seconds, more on a loaded machine. The app has served
        # no request before (it was awaited with a TCP connect), so no earlier period holds a datapoint.
        wait_for(lambda: time.time() % PERIOD < PERIOD - 60, timeout=70, what="room in the current period")
        with httpx.Client(base_url=app.url, timeout=30) as c:
            assert [c.get("/api/v1/noisy", params={"code": 503}).status_code for _ in range(60)] == [503] * 60
            assert all(c.get(f"/api/v1/tenants/t-{i}").status_code == 200 for i in range(140))
            assert [c.get("/api/v1/slow", params={"ms": 700}).status_code for _ in range(3)] == [200] * 3
        sent = time.time()
        slow_route = {"Service": app.service, "Route": "/api/v1/slow"}
        wait_for(lambda: metric_stats(live.url, ns, "RequestCount", slow_route).get("Sum") == 3
                 and metric_stats(live.url, ns, "HTTPCode_Target_5XX_Count").get("Sum") == 60,
                 what="the app's request metrics")

        # The tick the alarms worker runs once the period is over.
        worker = AlarmsWorker(runtime)
        worker.tick((sent // PERIOD + 1) * PERIOD + 1)
        assert worker.last_report.evaluated == 4, worker.last_report
        states = {name: _state(live, name) for name in ("utm-high-error-rate", "utm-error-share", "utm-p99-slow",
                                                         "utm-average-slow")}
        assert states["utm-high-error-rate"]["StateValue"] == "ALARM", states["utm-high-error-rate"]
        assert "[60.0 (" in states["utm-high-error-rate"]["StateReason"]
        assert states["utm-error-share"]["StateValue"] == "ALARM"  # 60 of some 200 requests
        # Three slow requests of some 200: the average stays low, the p99 does not.
        assert states["utm-p99-slow"]["StateValue"] == "ALARM", states["utm-p99-slow"]["StateReason"]
        assert states["utm-average-slow"]["StateValue"] == "OK", states["utm-average-slow"]["StateReason"]
        p99 = json.loads(states["utm-p99-slow"]["StateReasonData"])["recentDatapoints"][0]
        slowest = metric_stats(live.url, ns, "TargetResponseTime", {"Service": app.service})["Maximum"]
        # At least the 700 ms slept, within the 10 % buckets; at most the slowest request's bucket.
        assert 0.63 <= p99 <= slowest * 1.1, (p99, slowest)

        deliver_all(runtime, until=lambda: len(hook.requests) >= 3)
        fired = sorted(json.loads(json.loads(r.body)["Message"])["AlarmName"] for r in hook.requests)
        assert fired == ["utm-error-share", "utm-high-error-rate", "utm-p99-slow"]
    finally:
        hook.close()

"""Down/up notifications through the real outbox and notify worker to a local webhook, the
maintenance-window pause, and the AWS/ApplicationELB metrics the runbook's alarm reads."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from notify_helpers import Receiver
from probe_servers import FlipServer, ProberThread, wait_for
from rexwatch.services.metrics import MetricsService, StatQuery
from rexwatch.services.monitors import MonitorService, TargetGroupService
from rexwatch.services.notify import NotifyService
from rexwatch.testing import wait_for_tick, wait_until
from rexwatch.workers.notify import NotifyWorker


@pytest.fixture
def flip():
    s = FlipServer()
    yield s
    s.close()


@pytest.fixture
def hook():
    r = Receiver()
    yield r
    r.close()


def _topic(runtime, hook) -> str:
    notify = runtime.service(NotifyService)
    arn = notify.create_topic("utm-alerts")
    notify.subscribe(arn, "http", hook.url, {"SkipConfirmation": "true"})
    return arn


def _messages(hook) -> list[dict]:
    out = []
    for r in list(hook.requests):
        body = r.json
        if body.get("Type") == "Notification":
            out.append({"subject": body.get("Subject"), "message": json.loads(body["Message"])})
    return out


def _settled(runtime, prober, checks: int = 2) -> None:
    """``checks`` more checks ran, their results were flushed and the notifier had a round to send them."""
    done = prober.worker.checks
    wait_until(lambda: prober.worker.checks >= done + checks, 60, what=f"{checks} more checks")
    wait_for_tick(runtime, "probes", 1)
    wait_for_tick(runtime, "notify", 1)


def test_unhealthy_target_notifies_once_per_change(runtime, flip, hook):
    # How soon the DOWN message comes (threshold x interval) is measured by bench/bench_latency.py.
    arn = _topic(runtime, hook)
    tgs = runtime.service(TargetGroupService)
    g = tgs.create({"name": "utm-api", "port": flip.port, "health_check_path": "/health", "matcher": "200",
                    "health_check_interval": 0.5, "health_check_timeout": 0.3, "healthy_threshold": 2,
                    "unhealthy_threshold": 3, "topics": [arn]})
    tgs.register(g["TargetGroupArn"], [{"Id": "127.0.0.1"}])
    with ProberThread(runtime) as prober, ProberThread(runtime, NotifyWorker):
        wait_for(lambda: tgs.describe_health(g["TargetGroupArn"])["TargetHealthDescriptions"][0]
                 ["TargetHealth"]["State"] == "healthy", 60)
        flip.mode = "failing"
        wait_for(lambda: _messages(hook), 60)
        down = _messages(hook)[0]
        assert down["subject"].startswith("[DOWN] target 127.0.0.1:") and "HTTP 503" in down["subject"]
        assert down["message"]["reason"] == "Target.ResponseCodeMismatch"
        assert down["message"]["excerpt"].startswith('{"status": "unhealthy"')
        flip.mode = "healthy"
        wait_for(lambda: len(_messages(hook)) >= 2, 60)
        assert _messages(hook)[1]["subject"].startswith("[UP] target 127.0.0.1:")
        _settled(runtime, prober, checks=3)  # more healthy checks send nothing more
    assert len(_messages(hook)) == 2  # one message per change, none repeated

    now = dt.datetime.now(dt.UTC)
    stats = runtime.service(MetricsService).get_statistics_batch(
        [StatQuery("u", "AWS/ApplicationELB", "UnhealthyHostCount", (("TargetGroup", g["TargetGroupArn"]),),
                   "Maximum", 60),
         StatQuery("h", "AWS/ApplicationELB", "HealthyHostCount", (("TargetGroup", g["MetricDimension"]),),
                   "Maximum", 60),
         StatQuery("r", "AWS/ApplicationELB", "TargetResponseTime",
                   (("Target", f"127.0.0.1:{flip.port}"), ("TargetGroup", g["MetricDimension"])), "Average", 60)],
        now - dt.timedelta(minutes=5), now + dt.timedelta(minutes=1))
    assert max(v for _, v in stats["u"]) == 1.0
    assert max(v for _, v in stats["h"]) == 1.0
    assert stats["r"] and 0 < stats["r"][0][1] < 1


def test_monitor_alerts_pause_in_maintenance_and_flapping_is_damped(runtime, flip, hook):
    arn = _topic(runtime, hook)
    svc = runtime.service(MonitorService)
    m = svc.create({"name": "UTM API", "url": f"{flip.url}/health", "interval": 0.2, "timeout": 0.2,
                    "topics": ["utm-alerts"]})
    with ProberThread(runtime) as prober, ProberThread(runtime, NotifyWorker):
        wait_for(lambda: svc.get(m["id"])["status"] == "up", 60)
        window = svc.create_window({"name": "deploy", "duration": "10m", "monitors": [m["id"]]})
        wait_for_tick(runtime, "probes_reload", 1)  # the prober has read the window with its configuration
        flip.mode = "failing"
        wait_for(lambda: svc.repo.find_monitor(m["id"])["status"] == "down", 60)
        _settled(runtime, prober)
        assert _messages(hook) == []  # down during maintenance: no alert
        assert svc.get(m["id"])["status"] == "maintenance"
        svc.delete_window(window["id"])
        wait_for(lambda: _messages(hook), 60)  # window over, still down: one alert
        msg = _messages(hook)[0]
        assert msg["subject"] == "[DOWN] UTM API: HTTP 503, expected 200-299"
        assert msg["message"]["monitor_id"] == m["id"] and msg["message"]["status_code"] == 503
        # Flapping (alternating results): the fourth change in 20 checks marks it flapping and
        # nothing more is sent until it settles.
        for _ in range(12):
            flip.mode = "healthy" if flip.mode == "failing" else "failing"
            done = prober.worker.checks
            wait_until(lambda done=done: prober.worker.checks > done, 60, what="a check of the flipped server")
        flip.mode = "failing"
        _settled(runtime, prober)
        assert svc.repo.find_monitor(m["id"])["flapping"] is True
        assert len(_messages(hook)) <= 4
        flip.mode = "healthy"
        wait_for(lambda: svc.repo.find_monitor(m["id"])["flapping"] is False
                 and svc.repo.find_monitor(m["id"])["status"] == "up", 60)
        wait_for(lambda: _messages(hook)[-1]["subject"] == "[UP] UTM API", 60)
        assert len(_messages(hook)) <= 5
    assert arn.endswith(":utm-alerts")

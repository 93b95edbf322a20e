"""Down/up notifications through the real outbox and notify worker to a local webhook, the
maintenance-window pause, and the AWS/ApplicationELB metrics the runbook's alarm reads."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest

from notify_helpers import Receiver, deliver_all
from probe_servers import FlipServer, ProberThread, recorded_checks, wait_for
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
    """The notifications received, in the order of the checks that sent them (one notifier round sends
    its messages at once, so they may arrive in any order)."""
    out = []
    for r in list(hook.requests):
        body = r.json
        if body.get("Type") == "Notification":
            out.append({"subject": body.get("Subject"), "message": json.loads(body["Message"])})
    return sorted(out, key=lambda m: dt.datetime.fromisoformat(m["message"]["time"]))


def _subject(name: str, event: str, row: dict) -> str:
    """The subject a check's alert has: the cause is the check's error, or its HTTP status."""
    cause = row["error"] or (f"HTTP {row['status_code']}" if row["status_code"] else "")
    return (f"[{'DOWN' if event == 'down' else 'UP'}] {name}" + (f": {cause}" if event == "down" and cause else ""))[:250]


def _alerts(states: list[str], quiet: list[bool]) -> list[tuple[int, str]]:
    """The notification rules written out: (check index, event) for each check that sends one. Only up and
    down are told; a new check's first up is silent; a quiet check (flapping, in maintenance) sends nothing,
    and the first check after it tells the current state if it differs from the last one told."""
    told, out = None, []
    for i, (state, hush) in enumerate(zip(states, quiet, strict=True)):
        if state not in ("up", "down"):
            continue
        if told is None and state == "up":
            told = "up"
        elif not hush and state != told:
            told = state
            out.append((i, state))
    return out


def _flapping(oks: list[int], window: int = 20, enter: int = 4, leave: int = 1) -> list[bool]:
    """Flap damping written out: changes between consecutive outcomes among the last ``window`` checks;
    ``enter`` of them start flapping, at most ``leave`` end it."""
    flapping, out = False, []
    for i in range(len(oks)):
        recent = oks[max(0, i + 1 - window):i + 1]
        changes = sum(a != b for a, b in itertools.pairwise(recent))
        flapping = changes >= enter if not flapping else changes > leave
        out.append(flapping)
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
        flip.mode = "healthy"
        wait_for(lambda: any(m["subject"].startswith("[UP] ") for m in _messages(hook)), 60)
        _settled(runtime, prober, checks=3)  # more healthy checks send nothing more
    deliver_all(runtime)  # what the prober's last flush queued

    # One message per change of state, none repeated, each naming the check that made the change. Under
    # load a 0.3 s check may time out at any moment, so the messages are compared with the rules applied
    # to the checks that actually ran, not with a fixed script.
    gid = tgs.repo.find_target_group(g["TargetGroupArn"])["id"]
    rows = recorded_checks(runtime, "target", gid)
    states = [{1: "up", 0: "down", 2: "pending"}[r["status"]] for r in rows]
    expected = _alerts(states, [False] * len(rows))
    name = f"target 127.0.0.1:{flip.port} in utm-api"
    got = _messages(hook)
    assert [m["subject"] for m in got] == [_subject(name, event, rows[i]) for i, event in expected]
    assert [event for _, event in expected][:2] == ["down", "up"]
    i, down = expected[0][0], got[0]["message"]
    assert down["reason"] == rows[i]["reason"] and down["state"] == "unhealthy"
    if rows[i]["status_code"] == 503:
        assert "HTTP 503" in got[0]["subject"] and down["reason"] == "Target.ResponseCodeMismatch"
        assert down["excerpt"].startswith('{"status": "unhealthy"')
    else:  # the third failure in a row timed out instead of answering 503
        assert down["reason"] == "Target.Timeout", rows[i]

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
        assert svc.get(m["id"])["status"] == "maintenance"
        told = len(_messages(hook))  # none for the window's failures (checked against the rules below)
        svc.delete_window(window["id"])
        wait_for(lambda: len(_messages(hook)) > told, 60)  # window over, still down: an alert
        # Flapping (alternating results): the fourth change in 20 checks marks it flapping and
        # nothing more is sent until it settles.
        for _ in range(12):
            flip.mode = "healthy" if flip.mode == "failing" else "failing"
            done = prober.worker.checks
            wait_until(lambda done=done: prober.worker.checks > done, 60, what="a check of the flipped server")
        flip.mode = "failing"
        _settled(runtime, prober)
        assert svc.repo.find_monitor(m["id"])["flapping"] is True
        flip.mode = "healthy"
        wait_for(lambda: svc.repo.find_monitor(m["id"])["flapping"] is False
                 and svc.repo.find_monitor(m["id"])["status"] == "up", 60)
        wait_for(lambda: _messages(hook)[-1]["subject"] == "[UP] UTM API", 60)
    deliver_all(runtime)  # what the prober's last flush queued
    assert arn.endswith(":utm-alerts")

    # The messages are those the rules give for the checks that actually ran (retries 0: each failure is
    # down). Under load a 0.2 s check may time out at any moment, which is a failure of its own, so the
    # rules are applied to the recorded checks rather than to a fixed script.
    rows = recorded_checks(runtime, "monitor", m["id"])
    oks = [r["ok"] for r in rows]
    paused = [r["status"] == 3 for r in rows]  # in the maintenance window
    assert [r["status"] for r in rows] == [3 if p else 1 if ok else 0 for ok, p in zip(oks, paused, strict=True)]
    flapping = _flapping(oks)
    states = ["up" if ok else "down" for ok in oks]
    expected = _alerts(states, [f or p for f, p in zip(flapping, paused, strict=True)])
    got = _messages(hook)
    assert [m["subject"] for m in got] == [_subject("UTM API", event, rows[i]) for i, event in expected]

    # Down during maintenance: failures there, and the first check after the window told them.
    window_checks = [i for i, p in enumerate(paused) if p]
    assert window_checks and not all(oks[i] for i in window_checks)
    k = next(k for k, (i, _) in enumerate(expected) if i > window_checks[-1])
    i, event = expected[k]
    assert (i, event) == (window_checks[-1] + 1, "down")
    msg = got[k]
    assert msg["message"]["monitor_id"] == m["id"] and msg["message"]["status_code"] == rows[i]["status_code"]
    if rows[i]["status_code"] == 503:
        assert msg["subject"] == "[DOWN] UTM API: HTTP 503, expected 200-299"
    else:  # that check timed out instead of answering 503
        assert rows[i]["reason"] == "timeout", rows[i]
    # Flapping damped: there were changes of state while flapping, and they sent nothing.
    assert [j for j in range(1, len(rows)) if flapping[j] and states[j] != states[j - 1]]

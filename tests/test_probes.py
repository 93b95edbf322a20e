"""The prober against real local servers: exact ELB thresholds, monitor types, retries, push, refusals."""

from __future__ import annotations

import time

import pytest

from probe_servers import DnsResponder, FlipServer, ProberThread, TcpListener, recorded_checks, wait_for
from rexwatch.errors import Invalid
from rexwatch.netpolicy import AddressPolicy
from rexwatch.services.monitors import MonitorService, TargetGroupService
from rexwatch.services.monitors.service import normalise
from rexwatch.stores.telemetry.probes import ProbeResults


@pytest.fixture
def flip():
    s = FlipServer()
    yield s
    s.close()


def _health(tgs: TargetGroupService, arn: str) -> dict:
    return tgs.describe_health(arn)["TargetHealthDescriptions"][0]["TargetHealth"]


def _elb_statuses(oks: list[int], healthy: int, unhealthy: int) -> list[int]:
    """ELB's rules written out independently of the engine: the status (1 healthy, 0 unhealthy,
    2 initial) each check should leave. Under load a 0.2 s check can time out at any moment, so the
    tests compare the engine with this on the checks that actually ran, not with a fixed script."""
    state, passes, fails, out = 2, 0, 0, []
    for ok in oks:
        passes, fails = (passes + 1, 0) if ok else (0, fails + 1)
        if ok and state != 1 and passes >= healthy:
            state = 1
        elif not ok and (state == 0 or fails >= unhealthy):
            state = 0
        out.append(state)
    return out


def _monitor_statuses(oks: list[int], retries: int) -> list[int]:
    """A monitor's rules (1 up, 0 down, 2 pending): ``retries`` failures in a row are pending."""
    state, fails, out = 2, 0, []
    for ok in oks:
        fails = 0 if ok else fails + 1
        state = 1 if ok else 0 if fails > retries else state if state == 0 else 2
        out.append(state)
    return out


def _follows(rows: list[dict], model) -> None:
    oks = [r["ok"] for r in rows]
    assert [r["status"] for r in rows] == model(oks), oks


def _first(rows: list[dict], status: int, after: int = -1) -> int:
    return next(i for i, r in enumerate(rows) if i > after and r["status"] == status)


def test_target_group_follows_elb_thresholds_exactly(runtime, flip):
    tgs = runtime.service(TargetGroupService)
    group = tgs.create({
        "name": "utm-api", "protocol": "HTTP", "port": flip.port, "health_check_path": "/health",
        "matcher": "200", "health_check_interval": 0.3, "health_check_timeout": 0.2,
        "healthy_threshold": 2, "unhealthy_threshold": 3,
    })
    arn = group["TargetGroupArn"]
    tgs.register(arn, [{"Id": "127.0.0.1"}])
    assert _health(tgs, arn)["State"] == "initial"
    gid = runtime.service(TargetGroupService).repo.find_target_group(arn)["id"]
    elb = lambda oks: _elb_statuses(oks, 2, 3)  # noqa: E731

    with ProberThread(runtime):
        wait_for(lambda: _health(tgs, arn)["State"] == "healthy", 60)
        rows = recorded_checks(runtime, "target", gid)
        # Exactly healthy_threshold passing checks in a row: the first leaves it initial (2), the second
        # makes it healthy (1).
        _follows(rows, elb)
        healthy_at = _first(rows, 1)
        # Still initial before it, unless three checks timed out in a row first and made it unhealthy.
        before = 0 if any(r["status"] == 0 for r in rows[:healthy_at]) else 2
        assert [(r["ok"], r["status"]) for r in rows[healthy_at - 1:healthy_at + 1]] == [(1, before), (1, 1)]

        flip.mode = "failing"
        wait_for(lambda: _health(tgs, arn)["State"] == "unhealthy", 60)
        rows = recorded_checks(runtime, "target", gid)
        _follows(rows, elb)
        # Two failures keep it healthy; the third in a row (unhealthy_threshold) makes it unhealthy.
        unhealthy_at = _first(rows, 0, after=healthy_at)
        assert [(r["ok"], r["status"]) for r in rows[unhealthy_at - 2:unhealthy_at + 1]] == [(0, 1), (0, 1), (0, 0)]
        # The reason is the last check's: wait for a 503 answer, since a loaded machine can also time out.
        wait_for(lambda: _health(tgs, arn) == {
            "State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
            "Description": "Health checks failed with these codes: [503]"}, 60)

        flip.mode = "hanging"
        wait_for(lambda: _health(tgs, arn).get("Reason") == "Target.Timeout", 60)

        flip.mode = "healthy"
        wait_for(lambda: _health(tgs, arn)["State"] == "healthy", 60)
        rows = recorded_checks(runtime, "target", gid)
        _follows(rows, elb)
        i = _first(rows, 1, after=unhealthy_at)
        assert [(r["ok"], r["status"]) for r in rows[i - 1:i + 1]] == [(1, 0), (1, 1)]

        # A second target on a closed port: connection failures -> Target.FailedHealthChecks.
        closed = TcpListener()
        closed.close()
        tgs.register(arn, [{"Id": "127.0.0.1", "Port": closed.port}])
        wait_for(lambda: any(d["TargetHealth"].get("Reason") == "Target.FailedHealthChecks"
                             for d in tgs.describe_health(arn)["TargetHealthDescriptions"]), 5)

    incidents = ProbeResults(runtime.telemetry).incidents("target", [str(gid)], 0, time.time() + 1)
    assert any(i["target"] == f"127.0.0.1:{flip.port}" and not i["ongoing"] and i["duration_s"] > 0
               for i in incidents)
    unregistered = tgs.describe_health(arn, [{"Id": "10.9.9.9", "Port": 80}])["TargetHealthDescriptions"][0]
    assert unregistered["TargetHealth"]["State"] == "unused"
    assert unregistered["TargetHealth"]["Reason"] == "Target.NotRegistered"


def test_http_monitor_retries_incidents_and_uptime(runtime, flip):
    svc = runtime.service(MonitorService)
    m = svc.create({"name": "api health", "type": "http", "url": f"{flip.url}/health", "interval": 0.2,
                    "timeout": 0.2, "retries": 1, "json_path": "$.status", "json_equals": "healthy"})
    with ProberThread(runtime):
        wait_for(lambda: svc.get(m["id"])["status"] == "up", 60)
        flip.mode = "failing"
        wait_for(lambda: svc.get(m["id"])["status"] == "down", 60)
        rows = recorded_checks(runtime, "monitor", m["id"])
        _follows(rows, lambda oks: _monitor_statuses(oks, 1))
        # retries=1: the first failure is pending (2), the second in a row is down (0).
        failed = [r for r in rows if not r["ok"] and r["status_code"] == 503]
        i = _first(rows, 0, after=_first(rows, 1))
        assert [(r["ok"], r["status"]) for r in rows[i - 1:i + 1]] == [(0, 2), (0, 0)]
        assert failed[0]["status_code"] == 503 and "expected 200-299" in failed[0]["error"]
        assert '"status": "unhealthy"' in failed[0]["excerpt"]
        flip.mode = "healthy"
        wait_for(lambda: svc.get(m["id"])["status"] == "up", 60)

    hist = svc.history(m["id"])
    assert len(hist["incidents"]) == 1
    inc = hist["incidents"][0]
    assert inc["cause"] == "HTTP 503, expected 200-299" and inc["end"] is not None and inc["duration_s"] > 0
    assert 0 < hist["uptime"]["24h"] < 100


@pytest.mark.parametrize(
    ("config", "mode", "reason"),
    [
        ({"keyword": "healthy"}, "healthy", None),
        ({"keyword": "nope"}, "healthy", "keyword"),
        ({"keyword_absent": "unhealthy"}, "failing", "status"),
        ({"keyword_absent": "unhealthy", "expected_status": "500-599"}, "failing", "keyword"),
        ({"json_path": "$.database", "json_equals": "up"}, "healthy", None),
        ({"json_path": "$.database", "json_equals": "down"}, "healthy", "json"),
        ({"max_response_ms": 100}, "slow", "slow"),
        ({"expected_status": "200"}, "redirect", None),
        ({"expected_status": "302", "follow_redirects": False}, "redirect", None),
        ({"expected_status": "200,204"}, 204, None),
        ({}, "hanging", "timeout"),
        ({"method": "POST", "body": "{}", "headers": {"X-Probe": "1"}}, "healthy", None),
    ],
)
def test_http_checks(runtime, flip, config, mode, reason):
    import asyncio

    from rexwatch.netpolicy import guarded_client
    from rexwatch.services.monitors.types import Probe, ProbeContext, get

    http = get("http")
    flip.mode = mode
    flip.delay = 0.25
    cfg = http.validate({"url": f"{flip.url}/", **config})

    async def go():
        async with guarded_client(AddressPolicy()) as c:
            return await http.check(ProbeContext(c, c), Probe("monitor", 1, "http", cfg, 1.0, 0.5))

    result = asyncio.run(go())
    assert result.ok == (reason is None), result
    assert result.reason == (reason or "")


def test_tcp_dns_and_refused_monitors(runtime):
    svc = runtime.service(MonitorService)
    listener = TcpListener()
    dns_server = DnsResponder({("api.utm.test", "A"): ["127.0.0.1"], ("api.utm.test", "TXT"): ['"v=ok"']})
    try:
        tcp = svc.create({"name": "redis port", "type": "tcp", "host": "127.0.0.1", "port": listener.port,
                          "interval": 0.2, "timeout": 0.15})
        dns_ok = svc.create({
            "name": "dns a", "type": "dns", "config": {"name": "api.utm.test", "nameserver": "127.0.0.1",
                                                       "port": dns_server.port, "expected": ["127.0.0.1"]},
            "interval": 0.3, "timeout": 0.25})
        dns_bad = svc.create({"name": "dns missing", "type": "dns", "config": {
            "name": "nope.utm.test", "nameserver": "127.0.0.1", "port": dns_server.port}, "interval": 0.3,
            "timeout": 0.25})
        meta_spec = {"name": "metadata", "type": "http", "url": "http://169.254.169.254/latest/meta-data/",
                     "interval": 0.3, "timeout": 0.25}
        with pytest.raises(Invalid, match="outbound_allow_link_local"):
            svc.create(meta_spec)
        # Stored while the setting allowed it (then turned off): each check is refused at connect time.
        meta = {"id": svc.repo.insert_monitor(normalise(meta_spec, AddressPolicy(allow_link_local=True)))}
        with ProberThread(runtime):
            wait_for(lambda: svc.get(tcp["id"])["status"] == "up", 60)
            wait_for(lambda: svc.get(dns_ok["id"])["status"] == "up", 60)
            wait_for(lambda: svc.get(dns_bad["id"])["status"] == "down", 60)
            wait_for(lambda: svc.get(meta["id"])["status"] == "down", 60)
            listener.close()
            wait_for(lambda: svc.get(tcp["id"])["status"] == "down", 60)
        assert "NXDOMAIN" in svc.get(dns_bad["id"])["last_error"] or "does not exist" in svc.get(
            dns_bad["id"])["last_error"]
        assert recorded_checks(runtime, "monitor", dns_ok["id"])[-1]["excerpt"] == "127.0.0.1"
        refused = recorded_checks(runtime, "monitor", meta["id"])
        assert refused and all(r["reason"] == "refused" for r in refused)
        assert "outbound_allow_link_local" in refused[0]["error"]
    finally:
        listener.close()
        dns_server.close()


def test_push_monitor_goes_down_when_silent(runtime, client):
    svc = runtime.service(MonitorService)
    # A window of seconds, not tenths, so a loaded machine still pings well inside it.
    m = client.post("/api/v1/monitors", json={"name": "nightly backup", "type": "push", "interval": 2,
                                              "grace_s": 2}).json()
    token = m["push_token"]
    assert m["push_url"].endswith(f"/push/{token}")
    assert client.get(f"/push/{token}").json() == {"ok": True, "monitor": "nightly backup"}
    assert client.post("/push/not-a-token").status_code == 404
    with ProberThread(runtime):
        # The job pings faster than interval + grace, for 2.5 s and until the monitor shows up: its first
        # check falls anywhere in its first interval, and a loaded machine's may come later still.
        stop_at, deadline = time.time() + 2.5, time.monotonic() + 60
        while time.time() < stop_at or svc.get(m["id"])["status"] != "up":
            assert time.monotonic() < deadline, svc.get(m["id"])
            assert client.post(f"/api/v1/push/{token}").status_code == 200
            time.sleep(0.15)
        wait_for(lambda: svc.get(m["id"])["status"] == "down", 60)
        assert "expected one every 4 s" in svc.get(m["id"])["last_error"]
        client.get(f"/push/{token}")
        wait_for(lambda: svc.get(m["id"])["status"] == "up", 60)


def test_paused_monitor_is_not_probed(runtime, flip):
    # Scheduling lateness is a timing goal: bench/bench_latency.py measures it.
    svc = runtime.service(MonitorService)
    m = svc.create({"name": "paused", "type": "http", "url": f"{flip.url}/", "interval": 0.2, "paused": True})
    live = svc.create({"name": "live", "type": "http", "url": f"{flip.url}/x", "interval": 0.2})
    with ProberThread(runtime):
        wait_for(lambda: len(recorded_checks(runtime, "monitor", live["id"])) >= 5, 60)
        assert recorded_checks(runtime, "monitor", m["id"]) == []
        svc.set_paused(m["id"], False)
        wait_for(lambda: len(recorded_checks(runtime, "monitor", m["id"])) >= 1, 60)
    exposed = runtime.metrics.render().decode()
    assert 'rexwatch_worker_ticks_total{outcome="check_ok",worker="probes"}' in exposed
    assert 'rexwatch_ingested_total{kind="probe_results"}' in exposed


def test_redirect_to_metadata_address_is_refused(flip):
    import asyncio

    from rexwatch.netpolicy import guarded_client
    from rexwatch.services.monitors.types import Probe, ProbeContext, get

    http = get("http")
    flip.mode = "redirect"
    flip.redirect_to = "http://169.254.169.254/latest/meta-data/iam/"
    cfg = http.validate({"url": f"{flip.url}/start"})

    async def go():
        policy = AddressPolicy()
        async with guarded_client(policy) as c:
            return await http.check(ProbeContext(c, c, policy), Probe("monitor", 1, "http", cfg, 1.0, 0.3))

    r = asyncio.run(go())
    assert not r.ok and r.reason == "refused" and "169.254.169.254" in r.error
    assert flip.hits == 1  # the first hop only; nothing was sent to the metadata address

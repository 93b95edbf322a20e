"""Real FastAPI (uvicorn), Flask and Django apps, instrumented with the SDK, against a live server.

Each app runs in its own process, with the real PostgreSQL and Redis behind its
health endpoint; the test drives traffic and reads back from rexwatch the logs,
request IDs, sampling and the ALB-named metrics.
"""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from sdk_helpers import log_lines, metric_stats, wait_for

pytestmark = pytest.mark.slow
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
ROUTES = {"fastapi": "/api/v1/tenants/{tenant_id}", "flask": "/api/v1/tenants/<tenant_id>",
          "django": "/api/v1/tenants/<str:tenant_id>"}


@pytest.mark.parametrize("kind", ["fastapi", "flask", "django"])
def test_framework_app_ships_logs_request_ids_sampling_metrics_and_health(kind, live, app_factory):
    app = app_factory(kind, live.url)
    group = f"/app/{app.service}"
    with httpx.Client(base_url=app.url, timeout=30) as c:
        given = c.get("/api/v1/tenants/t-0", headers={"X-Request-ID": "req-abc.123", "traceparent": TRACEPARENT})
        assert given.status_code == 200 and given.headers["x-request-id"] == "req-abc.123"
        created = [c.get(f"/api/v1/tenants/t-{i}").headers["x-request-id"] for i in range(1, 20)]
        assert len(set(created)) == 19 and all(len(r) == 36 for r in created)
        # A hostile ID is replaced, not echoed.
        hostile = c.get("/api/v1/tenants/x", headers={"X-Request-ID": "<script>x" * 50}).headers["x-request-id"]
        assert len(hostile) == 36 and "<" not in hostile
        assert [c.get("/api/v1/missing").status_code for _ in range(3)] == [404] * 3
        # A fresh connection each: uvicorn closes the connection after an unhandled exception.
        assert [httpx.get(f"{app.url}/api/v1/fail", timeout=30).status_code for _ in range(2)] == [500] * 2
        noisy = [c.get("/api/v1/noisy").headers["x-request-id"] for _ in range(200)]
        noisy_errors = [c.get("/api/v1/noisy", params={"code": 503}).headers["x-request-id"] for _ in range(5)]

        health = c.get("/health")
        assert health.status_code == 200, health.text
        body = health.json()
        assert list(body) == ["status", "timestamp", "version", "database", "redis"]
        assert body["status"] == "healthy" and body["version"] == "1.4.2"
        assert body["database"] == body["redis"] == "up" and isinstance(body["timestamp"], int)
        db_down = c.get("/health/db-down")
        assert db_down.status_code == 503
        assert db_down.json()["status"] == "unhealthy" and db_down.json()["database"] == "down"
        assert db_down.json()["redis"] == "up"
        redis_down = c.get("/health/redis-down")
        assert redis_down.status_code == 503 and redis_down.json()["redis"] == "down"
        assert redis_down.json()["database"] == "up"

    def all_lines() -> list[dict]:
        lines = log_lines(live.url, group)
        # every fetched tenant's line and the health requests' lines are in
        return lines if sum(x.get("message") == "tenant fetched" for x in lines) == 21 and any(
            x.get("path") == "/health/redis-down" for x in lines) else []
    lines = wait_for(all_lines, what="the app's log lines")

    fetched = [x for x in lines if x.get("message") == "tenant fetched"]
    first = next(x for x in fetched if x["tenant_id"] == "t-0")
    assert first["request_id"] == "req-abc.123" and first["method"] == "GET" and first["path"] == "/api/v1/tenants/t-0"
    assert first["trace_id"] == TRACEPARENT.split("-")[1]  # the caller's W3C trace, on the request's lines
    assert all("trace_id" not in x for x in fetched if x["tenant_id"] != "t-0")
    assert {x["request_id"] for x in fetched} >= set(created)
    access = [x for x in lines if x.get("logger") == "rexwatch.sdk.access"]
    t0 = next(x for x in access if x["request_id"] == "req-abc.123")
    assert t0["status"] == 200 and t0["route"] == ROUTES[kind] and isinstance(t0["duration"], float)
    fails = [x for x in access if x.get("path") == "/api/v1/fail"]
    assert len(fails) == 2 and all(x["status"] == 500 and x["level"] == "ERROR" for x in fails)
    # The failure's traceback is in the request's lines, with its request ID.
    assert any("kaboom" in x.get("exception", "") for x in lines if x.get("request_id") == fails[0]["request_id"])

    # Sampling: a noisy request keeps both of its lines or neither, kept lines say the rate, errors are all kept.
    by_request = Counter(x["request_id"] for x in lines if x.get("path") == "/api/v1/noisy")
    kept = [r for r in noisy if r in by_request]
    assert all(by_request[r] == 2 for r in kept)
    assert 40 <= len(kept) <= 160, len(kept)  # 200 requests at 0.5: far outside this happens ~never
    assert all(x.get("sample_rate") == 0.5 for x in lines if x.get("request_id") in set(kept))
    assert all(by_request[r] == 2 for r in noisy_errors)
    assert all("sample_rate" not in x for x in lines if x.get("request_id") in set(noisy_errors))

    ns = f"Test/{app.service}"
    route = {"Service": app.service, "Route": ROUTES[kind]}
    count = wait_for(lambda: (s := metric_stats(live.url, ns, "RequestCount", route)) and s["Sum"] == 21 and s,
                     what="RequestCount")
    assert count["SampleCount"] == 21
    rt = metric_stats(live.url, ns, "TargetResponseTime", route)
    assert rt["SampleCount"] == 21 and 0 < rt["Maximum"] < 30  # seconds, as ALB reports it
    # The app sends every 0.3 s: two requests' counts may leave in two rounds, so a read can see the
    # first alone. Wait for the whole count.
    _reaches(live.url, ns, "HTTPCode_Target_5XX_Count", {"Service": app.service, "Route": _route(kind, "fail")}, 2)
    _reaches(live.url, ns, "HTTPCode_Target_4XX_Count", {"Service": app.service, "Route": _route(kind, "missing")}, 3)
    _reaches(live.url, ns, "TenantFetched", {}, 21)
    # Raw paths never become dimensions.
    listed = httpx.get(f"{live.url}/api/v1/metrics", params={"namespace": ns, "metric_name": "RequestCount"}).json()
    routes = {d["value"] for m in listed["metrics"] for d in m["dimensions"] if d["name"] == "Route"}
    assert not any("t-1" in r for r in routes) and ROUTES[kind] in routes


def _route(kind: str, name: str) -> str:
    return f"/api/v1/{name}"


def _reaches(url: str, ns: str, name: str, dims: dict[str, str], total: float) -> None:
    """Wait until the metric's Sum reads ``total``; fail showing the last statistics read."""
    last: list[dict] = []
    try:
        wait_for(lambda: last.append(metric_stats(url, ns, name, dims)) or last[-1].get("Sum") == total,
                 what=f"{name} Sum to be {total}")
    except AssertionError as e:
        raise AssertionError(f"{name}: last read {last[-1:]}, expected Sum {total}") from e


def test_app_keeps_answering_when_the_server_is_killed(server_process, app_factory, tmp_path):
    server = server_process(data_dir=tmp_path / "srv").start()
    app = app_factory("fastapi", server.url, REXWATCH_MAX_QUEUE="2000", REXWATCH_FLUSH_INTERVAL="0.2")
    with httpx.Client(base_url=app.url, timeout=30) as c:
        for i in range(50):
            assert c.get(f"/api/v1/tenants/t-{i}").status_code == 200
        wait_for(lambda: c.get("/debug/sdk").json()["logs_sent"] >= 100, what="lines sent before the kill")
        server.stop(9)
        latencies = []
        for i in range(1500):
            r = c.get(f"/api/v1/tenants/t-{i}")
            assert r.status_code == 200
            latencies.append(r.elapsed.total_seconds())
        mid = c.get("/debug/sdk").json()
        for i in range(3000):
            assert c.get(f"/api/v1/tenants/t-{i}").status_code == 200
        end = c.get("/debug/sdk").json()
    latencies.sort()
    # The exporter's timeout is 5 s: no request waited on it.
    assert latencies[-1] < 5, latencies[-10:]
    assert end["send_errors"] >= 1 and end["logs_dropped"] + end["logs_failed"] > 0
    # 3,000 more requests with the server down: memory does not follow traffic (bounded buffers).
    assert end["rss"] - mid["rss"] < 30_000_000, (mid["rss"], end["rss"])

"""Request metrics as the middleware records them: appended per request, folded into tallies later."""

from __future__ import annotations

import threading

from rexwatch.sdk.config import Config
from rexwatch.sdk.requests import MAX_ROUTES, OTHER_ROUTE, RequestMetrics


def _by_name(data: list) -> dict[tuple[str, tuple], object]:
    return {(d.name, d.dimensions): d for _, d in data}


def test_counts_stay_exact_when_requests_fold_the_backlog_themselves() -> None:
    m = RequestMetrics(Config(service="svc"))
    m.FOLD_AT = 100  # a sender far behind: requests fold what waits
    for i in range(1_000):
        m.record("/items/{id}", 500 if i % 10 == 0 else 404 if i % 10 == 1 else 200, 0.001 * (1 + i % 5))
        assert len(m.pending) < 100
    data = _by_name(m.drain(0.0))
    dims = next(d for (name, d) in data if name == "RequestCount" and dict(d).get("Route") == "/items/{id}")
    count = data[("RequestCount", dims)]
    assert count.count == 1_000
    assert data[("HTTPCode_Target_5XX_Count", dims)].sum == 100
    assert data[("HTTPCode_Target_4XX_Count", dims)].sum == 100
    rt = data[("TargetResponseTime", dims)]
    assert (rt.minimum, rt.maximum) == (0.001, 0.005)
    assert abs(rt.sum - 200 * (0.001 + 0.002 + 0.003 + 0.004 + 0.005)) < 1e-9
    assert sum(c for _, c in rt.distribution) == 1_000
    assert m.drain(0.0) == []  # drained means gone


def test_records_racing_a_drain_are_each_counted_once() -> None:
    m = RequestMetrics(Config(service="svc"))
    per_thread, threads = 20_000, 4
    start = threading.Barrier(threads + 1)

    def hammer() -> None:
        start.wait()
        for _ in range(per_thread):
            m.record("/r", 200, 0.0005)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    total = 0
    while any(w.is_alive() for w in workers):
        total += sum(d.count for _, d in m.drain(0.0) if d.name == "RequestCount" and dict(d.dimensions).get("Route"))
    for w in workers:
        w.join()
    total += sum(d.count for _, d in m.drain(0.0) if d.name == "RequestCount" and dict(d.dimensions).get("Route"))
    assert total == per_thread * threads


def test_routes_beyond_the_bound_fold_into_one() -> None:
    m = RequestMetrics(Config(service="svc"))
    for i in range(MAX_ROUTES + 50):
        m.record(f"/raw/{i}", 200, 0.001)
    routes = {dict(d.dimensions).get("Route") for _, d in m.drain(0.0) if d.name == "RequestCount"}
    assert len(routes - {None}) == MAX_ROUTES + 1 and OTHER_ROUTE in routes

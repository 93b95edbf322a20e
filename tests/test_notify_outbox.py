"""The outbox claim on both control stores: concurrent notifiers never share a row; leases expire."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from rexwatch.services.notify import NotifyService
from rexwatch.services.notify.delivery import Dispatcher
from rexwatch.testing import make_runtime


@pytest.fixture
def rt(tmp_path, chdb_engine, control_url):
    runtime = make_runtime(tmp_path / "data", chdb_engine, control_url=control_url, workers="none")
    yield runtime
    runtime.close(close_stores=False)
    runtime.telemetry.drop_database()
    runtime.control.dispose()


def test_concurrent_claims_are_disjoint_and_leases_expire(rt):
    svc = rt.service(NotifyService)
    arn = svc.create_topic("t")
    for i in range(4):
        svc.subscribe(arn, "slack", f"https://hooks.example/{i}")
    ok, failed = svc.publish_batch(arn, [{"Id": str(i), "Message": f"m{i}"} for i in range(10)])
    assert len(ok) == 10 and failed == []
    total = 40

    claimers = [Dispatcher(rt) for _ in range(4)]
    got: list[list[int]] = [[] for _ in claimers]
    barrier = threading.Barrier(len(claimers))

    def work(i: int) -> None:
        barrier.wait()
        while True:
            items = claimers[i].claim(3)
            if not items:
                return
            got[i] += [it.delivery_id for it in items]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(claimers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    flat = [x for g in got for x in g]
    assert len(flat) == total and len(set(flat)) == total  # every row once, none twice

    # Leased rows are invisible to others until the lease runs out (a crashed notifier).
    other = Dispatcher(rt)
    assert other.claim(100) == []
    from sqlalchemy import update

    from rexwatch.stores.control.tables.notify import notify_outbox

    with rt.control.begin() as conn:
        conn.execute(update(notify_outbox).values(lease_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    again = other.claim(100)
    assert len(again) == total and {it.attempt for it in again} == {2}
    # The old owner can no longer record an outcome for rows it lost.
    from rexwatch.services.notify.providers import Delivery

    first = claimers[0]
    stale = [it for it in again if it.delivery_id in got[0]]
    first.record([(it, Delivery(True)) for it in stale])
    assert {d["status"] for d in svc.deliveries(limit=1000)} == {"sending"}
    other.record([(it, Delivery(True)) for it in again])
    assert {d["status"] for d in svc.deliveries(limit=1000)} == {"delivered"}

"""Metric filters run off the ingest path: a slow filter never delays a PutLogEvents acknowledgement,
a full queue drops batches that are re-read from the log table, and a restart loses nothing."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rexwatch.runtime import Runtime
from rexwatch.services.logs import LogsService
from rexwatch.services.logs.model import LogEventBatch
from rexwatch.services.metrics.filter_model import Transformation
from rexwatch.services.metrics.filters import MetricFilterService
from rexwatch.testing import LiveServer, make_runtime

GROUP = "/aws/ecs/utm-api"
COUNT = Transformation("Errors", "UTM/Logs", "1")


class Gate:
    """Wraps the worker's evaluation: signals when it starts and holds it until released."""

    def __init__(self, worker) -> None:
        self.worker = worker
        self.inner = worker.evaluate
        self.entered = threading.Event()
        self.released = threading.Event()
        self.calls = 0
        worker.evaluate = self

    def __call__(self, group_id, events) -> None:
        self.calls += 1
        self.entered.set()
        assert self.released.wait(60), "the test never released the metric filter"
        self.inner(group_id, events)


def _setup(rt: Runtime) -> tuple[LogsService, MetricFilterService]:
    logs = rt.service(LogsService)
    logs.create_log_group(GROUP)
    logs.create_log_stream(GROUP, "web")
    mf = rt.service(MetricFilterService)
    mf.put_metric_filter(GROUP, "errors", "ERROR", [COUNT])
    return logs, mf


def _batch(n: int, tag: str) -> LogEventBatch:
    t = int(time.time() * 1000) - n
    return LogEventBatch.of([(t + i, f"ERROR {tag} {i}" if i % 2 else f"INFO {tag} {i}") for i in range(n)])


def _errors_sum(server: LiveServer, expect: float, timeout: float = 60.0) -> float:
    cw = server.boto3_client("cloudwatch")
    now = dt.datetime.now(dt.UTC)
    deadline = time.monotonic() + timeout
    while True:
        r = cw.get_metric_statistics(Namespace="UTM/Logs", MetricName="Errors", StartTime=now - dt.timedelta(hours=1),
                                     EndTime=now + dt.timedelta(minutes=5), Period=3600 + 300, Statistics=["Sum"])
        total = sum(d["Sum"] for d in r["Datapoints"])
        if total == expect or time.monotonic() > deadline:
            return total
        time.sleep(0.05)


@pytest.fixture
def rt(tmp_path: Path, chdb_engine) -> Iterator[Runtime]:
    runtime = make_runtime(tmp_path / "data", chdb_engine, workers="none", metric_filter_queue_events=1000)
    yield runtime
    runtime.close(close_stores=False)
    runtime.telemetry.drop_database()
    runtime.control.dispose()


def test_a_blocked_filter_does_not_delay_acks_and_values_arrive_after(rt):
    logs, mf = _setup(rt)
    gate = Gate(mf.worker)
    with LiveServer(rt, run_workers=False) as server:
        client = server.boto3_client("logs")
        logs.put_log_events(GROUP, "web", _batch(10, "first"))
        assert gate.entered.wait(30)  # the worker holds the first batch and cannot move on
        # Every further request is acknowledged, over the AWS door too, while the filter is blocked.
        for k in range(5):
            logs.put_log_events(GROUP, "web", _batch(10, f"svc{k}"))
        t = int(time.time() * 1000)
        r = client.put_log_events(logGroupName=GROUP, logStreamName="web",
                                  logEvents=[{"timestamp": t, "message": "ERROR over http"}])
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert not gate.released.is_set() and gate.calls == 1 and not mf.worker.idle()
        # The events are readable before any datapoint exists.
        stored = logs.filter_log_events([GROUP], pattern="ERROR").events
        assert len(stored) == 6 * 5 + 1
        gate.released.set()
        assert _errors_sum(server, 31.0) == 31.0


def test_a_full_queue_drops_batches_and_the_worker_rereads_them(rt):
    logs, mf = _setup(rt)
    gate = Gate(mf.worker)
    with LiveServer(rt, run_workers=False) as server:
        logs.put_log_events(GROUP, "web", _batch(10, "first"))
        assert gate.entered.wait(30)
        for k in range(6):  # 6 x 400 events: past the queue's 1,000
            logs.put_log_events(GROUP, "web", _batch(400, f"b{k}"))
        assert mf.worker.dropped_batches >= 3
        gate.released.set()
        assert _errors_sum(server, 5.0 + 6 * 200) == 5.0 + 6 * 200
        deadline = time.monotonic() + 60
        while not mf.worker.idle() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert mf.worker.idle() and mf.worker.caught_up_events >= 800


def test_events_acknowledged_before_a_restart_are_evaluated_after_it(tmp_path: Path, chdb_engine):
    from rexwatch.stores.control import connect_control
    from rexwatch.stores.telemetry.chdb import ChdbExecutor

    first = make_runtime(tmp_path / "data", chdb_engine, workers="none")
    logs, mf = _setup(first)
    gate = Gate(mf.worker)
    logs.put_log_events(GROUP, "web", _batch(10, "before"))
    assert gate.entered.wait(30)
    logs.put_log_events(GROUP, "web", _batch(20, "queued"))
    # Stop while the filter holds the first batch: the second is still only in the queue.
    closing = threading.Thread(target=first.close, kwargs={"close_stores": False})
    closing.start()
    gate.released.set()
    closing.join(60)
    assert not closing.is_alive()
    first.control.dispose()

    settings = first.settings
    second = Runtime(settings, connect_control(settings.effective_control_url),
                     ChdbExecutor(chdb_engine, settings.telemetry_database, first.telemetry.limits))
    try:
        with LiveServer(second, run_workers=False) as server:
            second.service(LogsService)  # starts the worker, which catches up from its cursor
            assert _errors_sum(server, 15.0) == 15.0
            # New events still count once.
            second.service(LogsService).put_log_events(GROUP, "web", _batch(4, "after"))
            assert _errors_sum(server, 17.0) == 17.0
    finally:
        second.close(close_stores=False)
        second.telemetry.drop_database()
        second.control.dispose()

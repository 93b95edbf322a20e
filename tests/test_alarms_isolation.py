"""One bad alarm never stops the others: failures are isolated per alarm, counted and shown.

Healthy alarms read the real metrics store. The failures are provoked through the
service's ``stats`` seam, wrapped around the real source: a series whose query
raises as the embedded store does on a malformed query, a datapoint the
evaluator cannot compare, and a statistics store that is down altogether.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from rexwatch.services.alarms import AlarmDefinition, AlarmsService, MetricQuery, MetricStat
from rexwatch.services.alarms.evaluate import Datapoint
from rexwatch.services.alarms.sources import MetricsStats
from rexwatch.services.alarms.tick import ISOLATION_QUERIES
from rexwatch.services.metrics import MetricDatum, MetricsService
from rexwatch.workers.alarms import AlarmsWorker

BROKEN = "Sec/q'uote"


class StoreQueryError(RuntimeError):
    """What the embedded store raises for a query it cannot run (not a domain error)."""


class BreaksOn(MetricsStats):
    """The real statistics source, except that a batch holding a ``BROKEN`` series fails whole
    (as one malformed series fails the single batched ClickHouse query)."""

    def __init__(self, runtime, *, garbage: str | None = None, down: bool = False) -> None:
        super().__init__(runtime)
        self.garbage, self.down = garbage, down
        self.bad_math: set[int] = set()
        self.calls: list[int] = []

    def fetch(self, queries, start, end):
        self.calls.append(len(queries))
        if self.down:
            raise StoreQueryError("Code: 210. Connection refused")
        if any(q.namespace == BROKEN for q in queries):
            raise StoreQueryError(
                "Code: 26. DB::Exception: Cannot parse quoted string: CANNOT_READ_ARRAY_FROM_TEXT"
            )
        out = super().fetch(queries, start, end)
        for q in queries:
            if q.metric_name == self.garbage:
                out[q] = [Datapoint(p.ts, "not a number") for p in out[q]]  # type: ignore[arg-type]
        return out

    def fetch_math(self, alarms, start, end):
        if any(key in self.bad_math for key, _ in alarms):
            raise StoreQueryError("Code: 47. Unknown identifier")
        return super().fetch_math(alarms, start, end)


def alarm(name: str, metric: str, namespace: str = "UTM/Application") -> AlarmDefinition:
    return AlarmDefinition(
        name=name,
        namespace=namespace,
        metric_name=metric,
        statistic="Maximum",
        period=60,
        evaluation_periods=1,
        threshold=80,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="breaching",  # a failed read must not count as missing data
    )


def put_points(runtime, minute: int, namespace: str, metrics: list[str], value: float) -> None:
    ts = dt.datetime.fromtimestamp(minute - 60 + 1, dt.UTC)
    runtime.service(MetricsService).put_metric_data(namespace, [MetricDatum(m, [], ts, value) for m in metrics])


def test_a_failing_series_does_not_stop_healthy_alarms_in_the_same_tick(runtime, client, caplog):
    svc = runtime.service(AlarmsService)
    svc.stats = stats = BreaksOn(runtime)
    minute = int(time.time() // 60) * 60
    healthy = [f"Cpu{i}" for i in range(7)]
    put_points(runtime, minute, "UTM/Application", healthy, 95.0)
    for m in healthy:
        svc.put_metric_alarm(alarm(f"healthy-{m}", m))
    svc.put_metric_alarm(alarm("broken", "Errors", namespace=BROKEN))
    caplog.set_level(logging.WARNING, logger="rexwatch.alarms")

    worker = AlarmsWorker(runtime)
    worker.tick(minute + 5.0)
    report = worker.last_report

    assert report.evaluated == 8 and report.transitions == 7
    assert all(svc.get(f"healthy-{m}").state_value == "ALARM" for m in healthy)
    broken = svc.get("broken")
    assert broken.state_value == "INSUFFICIENT_DATA"  # kept: not judged on data it could not read
    assert broken.evaluation_error.startswith("query: internal error (StoreQueryError)")
    assert report.failed == {"broken": ("query", "internal error (StoreQueryError); see the server log")}
    # Halving isolated the bad series: the whole batch, then parts, never one query per alarm.
    assert stats.calls[0] == 8 and len(stats.calls) < 8
    assert any("'broken' not evaluated (query" in r.getMessage() for r in caplog.records)
    metrics = client.get("/metrics").text
    assert 'rexwatch_alarm_evaluation_errors_total{reason="query"} 1.0' in metrics
    assert 'rexwatch_alarm_evaluation_errors_total{reason="evaluate"} 0.0' in metrics
    rest = client.get("/api/v1/alarms/broken").json()
    assert rest["evaluation_error"] == broken.evaluation_error and rest["state"] == "INSUFFICIENT_DATA"
    assert "evaluation failing" in client.get("/alarms").text
    assert "The last evaluation failed" in client.get("/alarms/broken").text

    # Once the series reads again, the alarm is judged and the error is gone.
    svc.stats = BreaksOn(runtime)
    svc.put_metric_alarm(alarm("broken", "Errors", namespace="Sec/fixed"))
    put_points(runtime, minute + 60, "Sec/fixed", ["Errors"], 10.0)
    svc.evaluate_due(minute + 65.0)
    fixed = svc.get("broken")
    assert fixed.state_value == "OK" and fixed.evaluation_error is None


def test_an_alarm_whose_evaluation_raises_keeps_its_state_and_the_others_move(runtime):
    svc = runtime.service(AlarmsService)
    svc.stats = BreaksOn(runtime, garbage="Garbled")
    minute = int(time.time() // 60) * 60
    put_points(runtime, minute, "UTM/Application", ["Cpu", "Garbled"], 95.0)
    svc.put_metric_alarm(alarm("healthy", "Cpu"))
    svc.put_metric_alarm(alarm("garbled", "Garbled"))
    report = svc.evaluate_due(minute + 5.0)
    assert svc.get("healthy").state_value == "ALARM"
    assert svc.get("garbled").state_value == "INSUFFICIENT_DATA"
    assert report.failed["garbled"][0] == "evaluate" and report.errors == {"evaluate": 1}


def test_a_failing_math_alarm_does_not_stop_the_other_math_alarms(runtime):
    svc = runtime.service(AlarmsService)
    svc.stats = BreaksOn(runtime)
    minute = int(time.time() // 60) * 60
    put_points(runtime, minute, "UTM/Application", ["Errors", "Requests"], 50.0)

    def rate(name: str, expression: str) -> AlarmDefinition:
        stat = MetricStat("UTM/Application", "Errors", (), 60, "Sum")
        return AlarmDefinition(
            name=name,
            metrics=(
                MetricQuery("e", metric_stat=stat, return_data=False),
                MetricQuery("rate", expression=expression),
            ),
            evaluation_periods=1,
            threshold=40,
            comparison_operator="GreaterThanThreshold",
        )

    svc.put_metric_alarm(rate("doubled", "e * 2"))
    svc.put_metric_alarm(rate("bad", "e * 3"))
    svc.put_metric_alarm(rate("plain", "e"))
    svc.stats.bad_math.add(svc.get("bad").id)  # its request fails in the store
    report = svc.evaluate_due(minute + 5.0)
    assert svc.get("doubled").state_value == "ALARM" and svc.get("plain").state_value == "ALARM"
    assert svc.get("bad").state_value == "INSUFFICIENT_DATA"
    assert report.errors == {"math": 1} and list(report.failed) == ["bad"]


def test_a_store_that_is_down_costs_a_bounded_number_of_queries(runtime):
    svc = runtime.service(AlarmsService)
    svc.stats = stats = BreaksOn(runtime, down=True)
    minute = int(time.time() // 60) * 60
    for i in range(300):
        svc.put_metric_alarm(alarm(f"a{i:03d}", f"M{i}"))
    report = svc.evaluate_due(minute + 5.0)
    assert report.evaluated == 300 and len(report.failed) == 300 and report.transitions == 0
    assert len(stats.calls) <= ISOLATION_QUERIES + 1
    assert svc.describe_alarms(state="INSUFFICIENT_DATA", max_records=100)[0][0].evaluation_error

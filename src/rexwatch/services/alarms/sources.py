"""Adapters from the alarms service to the metrics and notify services.

The evaluator reads statistics through ``StatsSource.fetch`` (one call for all
due alarms) and queues notifications through ``Notifier.enqueue`` inside the
transaction that records the transition.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Connection

from rexwatch.services.alarms.evaluate import Datapoint
from rexwatch.services.alarms.model import MetricQuery, StatQuery


class StatsSource(Protocol):
    """Where evaluation reads datapoints from: one call for many series.

    ``fetch_math(alarms, start, end)`` (optional) evaluates metric math alarms, given as
    (key, metrics) pairs, and returns the datapoints of each key's returned expression.
    """

    def fetch(
        self, queries: Sequence[StatQuery], start: float, end: float
    ) -> dict[StatQuery, list[Datapoint]]: ...


class Notifier(Protocol):
    """Puts a message for a topic into the delivery outbox, inside the caller's transaction."""

    def enqueue(
        self, conn: Connection, topic_arn: str, subject: str, message: str, dedup_id: str
    ) -> None: ...


class MetricsStats:
    """Statistics from the metrics service's batched query (one ClickHouse query per storage tier).

    Percentile series also fetch their SampleCount (same series, no extra scan) so
    EvaluateLowSampleCountPercentile can judge each datapoint.
    """

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def fetch(
        self, queries: Sequence[StatQuery], start: float, end: float
    ) -> dict[StatQuery, list[Datapoint]]:
        from rexwatch.services.metrics import MetricsService
        from rexwatch.services.metrics import StatQuery as MetricsQuery

        batch = []
        for i, q in enumerate(queries):
            batch.append(
                MetricsQuery(f"q{i}", q.namespace, q.metric_name, q.dimensions, q.statistic, q.period, q.unit)
            )
            if q.statistic.startswith("p"):
                batch.append(
                    MetricsQuery(
                        f"n{i}", q.namespace, q.metric_name, q.dimensions, "SampleCount", q.period, q.unit
                    )
                )
        if not batch:
            return {}
        svc = self.runtime.service(MetricsService)
        got = svc.get_statistics_batch(
            batch, dt.datetime.fromtimestamp(start, dt.UTC), dt.datetime.fromtimestamp(end, dt.UTC)
        )
        out: dict[StatQuery, list[Datapoint]] = {}
        for i, q in enumerate(queries):
            counts = {ts.timestamp(): v for ts, v in got.get(f"n{i}", [])}
            out[q] = [
                Datapoint(ts.timestamp(), v, counts.get(ts.timestamp())) for ts, v in got.get(f"q{i}", [])
            ]
        return out

    def fetch_math(
        self, alarms: Sequence[tuple[Any, Sequence[MetricQuery]]], start: float, end: float
    ) -> dict[Any, list[Datapoint]]:
        """Metric math alarms: all of them in one GetMetricData batch, ids prefixed per alarm.

        An alarm whose expressions use METRICS() or SEARCH() sees every series of its request,
        so it gets a request of its own.
        """
        shared = [x for x in alarms if not whole_request(x[1])]
        own = [x for x in alarms if whole_request(x[1])]
        out: dict[Any, list[Datapoint]] = {}
        for group in ([shared] if shared else []) + [[x] for x in own]:
            out.update(self._math_batch(group, start, end))
        return out

    def _math_batch(
        self, alarms: Sequence[tuple[Any, Sequence[MetricQuery]]], start: float, end: float
    ) -> dict[Any, list[Datapoint]]:
        from rexwatch.services.metrics import MetricDataQuery, MetricId, MetricsService, MetricStatSpec

        queries: list[MetricDataQuery] = []
        returned: dict[str, Any] = {}
        for n, (key, metrics) in enumerate(alarms):
            prefix = f"a{n}_" if len(alarms) > 1 else ""
            ids = [m.id for m in metrics]
            for m in metrics:
                qid = prefix + m.id
                if m.return_data:
                    returned[qid] = key
                if m.expression is not None:
                    expr = m.expression
                    for i in sorted(ids, key=len, reverse=True):
                        expr = re.sub(
                            rf"(?<![A-Za-z0-9_\"]){re.escape(i)}(?![A-Za-z0-9_\"])", prefix + i, expr
                        )
                    queries.append(
                        MetricDataQuery(
                            qid, expression=expr, label=m.label, return_data=m.return_data, period=m.period
                        )
                    )
                elif m.metric_stat is not None:
                    ms = m.metric_stat
                    dims = tuple(sorted((d.name, d.value) for d in ms.dimensions))
                    spec = MetricStatSpec(
                        MetricId(ms.namespace, ms.metric_name, dims), ms.period, ms.stat, ms.unit
                    )
                    queries.append(
                        MetricDataQuery(qid, metric_stat=spec, label=m.label, return_data=m.return_data)
                    )
        svc = self.runtime.service(MetricsService)
        page = svc.get_metric_data(
            queries,
            dt.datetime.fromtimestamp(start, dt.UTC),
            dt.datetime.fromtimestamp(end, dt.UTC),
            scan_by="TimestampAscending",
            max_datapoints=10_000_000,
        )
        out: dict[Any, list[Datapoint]] = {}
        for r in page.results:
            key = returned.get(r.id)
            if key is None or key in out:
                continue
            out[key] = [Datapoint(t.timestamp(), v) for t, v in zip(r.timestamps, r.values, strict=True)]
        return out


def whole_request(metrics: Sequence[MetricQuery]) -> bool:
    """Whether an alarm's expressions see every series of their request (METRICS(), SEARCH())."""
    return any("METRICS(" in (m.expression or "") or "SEARCH(" in (m.expression or "") for m in metrics)


class OutboxNotifier:
    """Publishes to SNS topics through the notify service's transactional outbox."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.pending = False

    def wake(self) -> None:
        """After the enqueuing transaction committed: let this process's notifier send at once."""
        if self.pending:
            from rexwatch.services.notify import NotifyService

            self.pending = False
            self.runtime.service(NotifyService).wake()

    def enqueue(self, conn: Connection, topic_arn: str, subject: str, message: str, dedup_id: str) -> None:
        from rexwatch.services.notify import NotifyService

        # A MessageId derived from the transition keeps it stable if the same transition is re-queued.
        message_id = str(uuid.uuid5(uuid.NAMESPACE_URL, dedup_id))
        self.pending = True
        self.runtime.service(NotifyService).enqueue(
            conn, topic_arn, message, subject=subject, message_id=message_id
        )

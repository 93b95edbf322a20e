"""CloudWatch Embedded Metric Format: metrics as JSON log events, sent with PutLogEvents.

Logs go out as with the ``aws`` exporter; metrics, instead of PutMetricData, become
EMF events in ``emf_log_group`` (the log group by default) and the same stream, with
``x-amzn-logs-format: json/emf``. CloudWatch Logs (and rexwatch) extract the metrics
from them, so the same instrumentation works where PutMetricData is not allowed
or costs more than logs.

EMF has no statistic sets: a value is one sample, or an array of up to 100. A
statistic set (count n, sum, min, max) is written as n samples that keep all four
exact: the minimum, the maximum, and n-2 copies of the remaining mean (which lies
between them). One event carries every metric of a namespace and dimension set,
100 samples each; more samples take more events.
"""

from __future__ import annotations

from typing import Any

from rexwatch.sdk.config import Config
from rexwatch.sdk.exporters.aws import AwsExporter
from rexwatch.sdk.exporters.base import MetricDatum
from rexwatch.sdk.logs import dumps

MAX_VALUES = 100  # samples per metric per event (CloudWatch's limit)
_EMF_HEADER = {"x-amzn-logs-format": "json/emf"}


def samples(d: MetricDatum) -> list[float]:
    """Samples whose SampleCount, Sum, Minimum and Maximum are the statistic set's."""
    if d.distribution:  # each value as often as it was seen: percentiles survive
        return [v for v, c in d.distribution for _ in range(int(c))]
    n = int(d.count)
    if n <= 1:
        return [d.sum] if n == 1 else []
    if d.minimum == d.maximum:
        return [d.minimum] * n
    if n == 2:
        return [d.minimum, d.maximum]
    rest = (d.sum - d.minimum - d.maximum) / (n - 2)
    return [d.minimum, d.maximum, *([rest] * (n - 2))]


def emf_events(namespace: str, data: list[MetricDatum]) -> list[tuple[int, str]]:
    """EMF events (epoch ms, JSON) for one namespace's statistic sets."""
    groups: dict[tuple[tuple[tuple[str, str], ...], int], list[MetricDatum]] = {}
    for d in data:
        groups.setdefault((d.dimensions, int(d.timestamp * 1000)), []).append(d)
    events: list[tuple[int, str]] = []
    for (dims, ts), datums in groups.items():
        values = [(d, samples(d)) for d in datums]
        chunks = max((len(v) + MAX_VALUES - 1) // MAX_VALUES for _, v in values) if values else 0
        for k in range(chunks):
            doc: dict[str, Any] = {}
            metrics = []
            for d, v in values:
                part = v[k * MAX_VALUES:(k + 1) * MAX_VALUES]
                if not part:
                    continue
                doc[d.name] = part[0] if len(part) == 1 else part
                metrics.append({"Name": d.name, "Unit": d.unit})
            if not metrics:
                continue
            for name, value in dims:
                doc.setdefault(name, value)  # a dimension named like a metric cannot be both: the metric wins
            doc["_aws"] = {"Timestamp": ts, "CloudWatchMetrics": [{
                "Namespace": namespace, "Dimensions": [[name for name, _ in dims]], "Metrics": metrics}]}
            events.append((ts, dumps(doc)))
    events.sort(key=lambda e: e[0])
    return events


class EmfExporter(AwsExporter):
    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.config = config

    def send_metrics(self, namespace: str, data: list[MetricDatum]) -> None:
        events = emf_events(namespace, data)
        group = self.config.emf_log_group or self.config.log_group or "/app/app"
        stream = self.config.log_stream or "emf"
        for i in range(0, len(events), 10_000):  # PutLogEvents' count limit; EMF events are small
            self.send_logs(group, stream, events[i:i + 10_000], _EMF_HEADER)

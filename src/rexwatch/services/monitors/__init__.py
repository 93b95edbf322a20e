"""Health checks and uptime: monitors (http, tcp, dns, push), target groups, status pages.

``MonitorService`` and ``TargetGroupService`` hold the logic; the prober
worker (``rexwatch.workers.probes``) runs the checks; ``sinks`` is where
results leave for the metrics and notification services.
"""

from rexwatch.services.monitors.service import MonitorService
from rexwatch.services.monitors.target_groups import TargetGroupService

__all__ = ["MonitorService", "TargetGroupService"]

"""CloudWatch-style dashboards: named JSON bodies of widgets on a 24-column grid."""

from rexwatch.services.dashboards.model import Dashboard, DashboardEntry, ValidationMessage
from rexwatch.services.dashboards.service import DashboardsService

__all__ = ["Dashboard", "DashboardEntry", "DashboardsService", "ValidationMessage"]

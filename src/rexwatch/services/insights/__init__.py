"""Logs Insights queries: the async lifecycle (StartQuery ... GetQueryResults) and saved queries."""

from rexwatch.services.insights.service import QueriesService

__all__ = ["QueriesService"]

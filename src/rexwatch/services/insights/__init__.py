"""Logs Insights queries: the async lifecycle (StartQuery ... GetQueryResults) and saved queries."""

from __future__ import annotations

from typing import Any

__all__ = ["QueriesService"]


def __getattr__(name: str) -> Any:
    # Lazy, so stores can import the domain model without importing the service.
    if name == "QueriesService":
        from rexwatch.services.insights.service import QueriesService

        return QueriesService
    raise AttributeError(name)

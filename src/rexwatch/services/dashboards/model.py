"""Dashboards as the service hands them out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ValidationMessage:
    # A JSON pointer into the body ("/widgets/0/properties/metrics/1"), as CloudWatch reports it.
    data_path: str
    message: str


@dataclass(frozen=True)
class DashboardEntry:
    name: str
    arn: str
    last_modified_ms: int
    size: int


@dataclass(frozen=True)
class Dashboard:
    name: str
    arn: str
    body: str
    last_modified_ms: int

"""Typed inputs and outputs of the traces service."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUSES = ("UNSET", "OK", "ERROR")
MAX_NAME = 1024
MAX_SEARCH = 1000
MAX_TRACE_SPANS = 10_000
FUTURE_LIMIT = dt.timedelta(hours=2)


@dataclass(slots=True)
class Span:
    """One span. Ids are lowercase hex (32 and 16 digits); ``parent_span_id`` is "" for a root."""

    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status: str = "UNSET"
    status_message: str = ""
    scope: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def route(self) -> str:
        """The server route the span handled (``http.route``), "" for other spans."""
        r = self.attributes.get("http.route")
        return r if isinstance(r, str) else ""


@dataclass
class PutSpansResult:
    stored: int
    rejected: int = 0
    reason: str = ""


@dataclass(frozen=True)
class SpanSearch:
    """Spans matching every given criterion; ``slowest`` orders by duration, else newest first.
    ``one_per_trace`` keeps each trace's first match only (a list of traces)."""

    start: dt.datetime
    end: dt.datetime
    service: str | None = None
    name: str | None = None
    route: str | None = None
    min_duration_ms: float | None = None
    status: str | None = None
    slowest: bool = True
    one_per_trace: bool = True
    limit: int = 100


@dataclass
class ServiceSummary:
    """Requests a service handled (its SERVER and CONSUMER spans, and root spans) in a range."""

    service: str
    requests: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

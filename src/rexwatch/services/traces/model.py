"""Typed inputs and outputs of the traces service."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUSES = ("UNSET", "OK", "ERROR")
MAX_NAME = 1024
MAX_SEARCH = 1000
MAX_TRACE_SPANS = 10_000
FUTURE_LIMIT = dt.timedelta(hours=2)
_HEX = re.compile(r"[0-9a-f]*")
_U64 = 2**64 - 1


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


@dataclass(slots=True)
class SpanColumns:
    """Spans column by column (every list the same length), as the OTLP doors decode them: the
    traces service checks and stores them without a Python object per span.

    Ids are the raw bytes (16 for a trace, 8 for a span; a root's parent is empty); ``kind`` and
    ``status`` are OTLP's enum numbers (positions in ``KINDS`` and ``STATUSES``); ``attributes``,
    ``resource``, ``events`` and ``links`` are JSON text in UTF-8; ``route`` is the span's
    ``http.route`` attribute ("" when it has none).
    """

    trace_id: list[bytes] = field(default_factory=list)
    span_id: list[bytes] = field(default_factory=list)
    parent_span_id: list[bytes] = field(default_factory=list)
    service: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    start_ns: list[int] = field(default_factory=list)
    end_ns: list[int] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    status_message: list[str] = field(default_factory=list)
    scope: list[str] = field(default_factory=list)
    route: list[str] = field(default_factory=list)
    attributes: list[bytes] = field(default_factory=list)
    resource: list[bytes] = field(default_factory=list)
    events: list[bytes] = field(default_factory=list)
    links: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.trace_id)

    @classmethod
    def of(cls, spans: Sequence[Span]) -> SpanColumns:
        """From ``Span`` objects (hex ids, kind and status by name), for Python callers."""
        out = cls()
        for s in spans:
            out.trace_id.append(_unhex(s.trace_id))
            out.span_id.append(_unhex(s.span_id))
            out.parent_span_id.append(_unhex(s.parent_span_id) if s.parent_span_id else b"")
            out.service.append(s.service)
            out.name.append(s.name)
            out.kind.append(KINDS.index(s.kind) if s.kind in KINDS else -1)
            out.start_ns.append(min(max(0, s.start_ns), _U64))
            out.end_ns.append(min(max(0, s.end_ns), _U64))
            out.status.append(STATUSES.index(s.status) if s.status in STATUSES else -1)
            out.status_message.append(s.status_message)
            out.scope.append(s.scope)
            out.route.append(s.route)
            out.attributes.append(orjson.dumps(s.attributes))
            out.resource.append(orjson.dumps(s.resource))
            out.events.append(orjson.dumps(s.events))
            out.links.append(orjson.dumps(s.links))
        return out


def _unhex(text: str) -> bytes:
    """Lowercase hex id text as bytes; other text gives b"x", which no id check accepts."""
    return bytes.fromhex(text) if _HEX.fullmatch(text) and len(text) % 2 == 0 else b"x"


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

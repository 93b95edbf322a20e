"""TracesService: store spans (group commit, as metrics), fetch a trace, search, summarise, link logs."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
import pyarrow as pa

from rexwatch.errors import Invalid, NotFound
from rexwatch.services.logs.model import LogEvent
from rexwatch.services.logs.service import LogsService
from rexwatch.services.metrics.ingest import IngestBuffer
from rexwatch.services.traces.model import (
    FUTURE_LIMIT,
    KINDS,
    MAX_NAME,
    MAX_SEARCH,
    MAX_TRACE_SPANS,
    STATUSES,
    PutSpansResult,
    ServiceSummary,
    Span,
    SpanSearch,
)
from rexwatch.stores.telemetry.traces import SPANS_SCHEMA, TracesStore

TRACE_ID = re.compile(r"[0-9a-f]{32}")
SPAN_ID = re.compile(r"[0-9a-f]{16}")
ZERO_TRACE = "0" * 32
ZERO_SPAN = "0" * 16
# Logs of a trace are looked for from this long before its first span to this long after its last.
LOG_MARGIN_MS = 60_000
MAX_TRACE_LOGS = 1000


def check_trace_id(trace_id: str) -> str:
    t = trace_id.strip().lower()
    if not TRACE_ID.fullmatch(t) or t == ZERO_TRACE:
        raise Invalid(f"trace id {trace_id[:40]!r} is not 32 hex digits (and not all zero)", field="trace_id")
    return t


def _ns(t: dt.datetime) -> int:
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


class TracesService:
    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.store = TracesStore(runtime.telemetry)
        self.retention_days = runtime.settings.trace_retention_days
        self.store.set_retention(self.retention_days)
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        wal = Path(runtime.settings.data_dir) / "wal" / f"spans-{runtime.telemetry.database}"
        self.ingest = IngestBuffer(wal, self.store.insert)
        runtime.on_close(self.ingest.close)

    # ---- writing ---------------------------------------------------------------------------
    def put_spans(self, spans: Sequence[Span]) -> PutSpansResult:
        """Store the spans that can be stored; durable once this returns. Refused spans are counted
        with the first reason (an exporter must not resend them)."""
        now = _ns(self.clock())
        oldest = now - self.retention_days * 86_400 * 1_000_000_000
        newest = now + int(FUTURE_LIMIT.total_seconds()) * 1_000_000_000
        cols: dict[str, list] = {f.name: [] for f in SPANS_SCHEMA}
        resources: dict[int, str] = {}  # one encoding per resource object (all spans of a resource share it)
        rejected, reason = 0, ""
        for s in spans:
            why = ""
            if not TRACE_ID.fullmatch(s.trace_id) or s.trace_id == ZERO_TRACE:
                why = "a span's trace id is not 32 hex digits (or is all zero)"
            elif not SPAN_ID.fullmatch(s.span_id) or s.span_id == ZERO_SPAN:
                why = "a span's span id is not 16 hex digits (or is all zero)"
            elif s.parent_span_id and not SPAN_ID.fullmatch(s.parent_span_id):
                why = "a span's parent span id is not 16 hex digits"
            elif s.end_ns < s.start_ns:
                why = f"span {s.name[:40]!r} ends before it starts"
            elif not oldest <= s.start_ns <= newest:
                why = f"span {s.name[:40]!r} starts outside the retention period ({self.retention_days} days) or over two hours ahead"
            elif s.kind not in KINDS or s.status not in STATUSES:
                why = f"span {s.name[:40]!r} has an unknown kind or status"
            if why:
                rejected += 1
                reason = reason or why
                continue
            cols["trace_id"].append(s.trace_id)
            cols["span_id"].append(s.span_id)
            cols["parent_span_id"].append(s.parent_span_id)
            cols["service"].append(s.service[:MAX_NAME])
            cols["name"].append(s.name[:MAX_NAME])
            cols["kind"].append(s.kind)
            cols["route"].append(s.route[:MAX_NAME])
            cols["start"].append(s.start_ns)
            cols["duration_ns"].append(s.end_ns - s.start_ns)
            cols["status"].append(s.status)
            cols["status_message"].append(s.status_message)
            cols["scope"].append(s.scope)
            cols["attributes"].append(orjson.dumps(s.attributes).decode() if s.attributes else "{}")
            enc = resources.get(id(s.resource))
            if enc is None:
                enc = resources[id(s.resource)] = orjson.dumps(s.resource).decode()
            cols["resource"].append(enc)
            cols["events"].append(orjson.dumps(s.events).decode() if s.events else "[]")
            cols["links"].append(orjson.dumps(s.links).decode() if s.links else "[]")
        stored = len(cols["trace_id"])
        if stored:
            table = pa.Table.from_arrays([pa.array(cols[f.name], f.type) for f in SPANS_SCHEMA], schema=SPANS_SCHEMA)
            self.ingest.submit(table)
            self.runtime.metrics.count_ingest("spans", stored)
        return PutSpansResult(stored, rejected, reason)

    def flush(self) -> None:
        if self.ingest.has_pending:
            self.ingest.flush()

    # ---- reading ---------------------------------------------------------------------------
    def _since(self) -> int:
        return _ns(self.clock()) - self.retention_days * 86_400 * 1_000_000_000

    def trace(self, trace_id: str) -> list[Span]:
        """Every span of a trace, by start time; NotFound when none is stored."""
        tid = check_trace_id(trace_id)
        self.flush()
        spans = [_span(r) for r in self.store.trace(tid, self._since(), MAX_TRACE_SPANS)]
        if not spans:
            raise NotFound(f"trace {tid} not found (or past the {self.retention_days}-day retention)")
        return spans

    def search(self, q: SpanSearch) -> list[Span]:
        if q.end <= q.start:
            raise Invalid("end must be after start", field="end")
        if not 1 <= q.limit <= MAX_SEARCH:
            raise Invalid(f"limit must be 1 to {MAX_SEARCH}", field="limit")
        if q.status is not None and q.status not in STATUSES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}", field="status")
        if q.min_duration_ms is not None and not 0 <= q.min_duration_ms < 10**12:
            raise Invalid("min_duration_ms must be a non-negative number of milliseconds", field="min_duration_ms")
        self.flush()
        rows = self.store.search(
            max(_ns(q.start), self._since()), _ns(q.end),
            service=q.service, name=q.name, route=q.route,
            min_duration_ns=None if q.min_duration_ms is None else int(q.min_duration_ms * 1_000_000),
            status=q.status, slowest=q.slowest, one_per_trace=q.one_per_trace, limit=q.limit,
        )
        return [_span(r) for r in rows]

    def services(self, start: dt.datetime, end: dt.datetime, limit: int = 1000) -> list[ServiceSummary]:
        """Request count, errors and latency percentiles per service, computed from its spans."""
        if end <= start:
            raise Invalid("end must be after start", field="end")
        self.flush()
        return [
            ServiceSummary(svc, int(n), int(err), float(q[0]), float(q[1]), float(q[2]), float(mx))
            for svc, n, err, q, mx in self.store.services(max(_ns(start), self._since()), _ns(end), limit)
        ]

    def trace_logs(self, trace_id: str, limit: int = MAX_TRACE_LOGS) -> list[LogEvent]:
        """Log events of any group that carry the trace's id (OTLP records' ``traceId``, the SDK's
        ``trace_id``), from a minute before its first span to a minute after its last."""
        spans = self.trace(trace_id)
        first = min(s.start_ns for s in spans) // 1_000_000 - LOG_MARGIN_MS
        last = max(s.end_ns for s in spans) // 1_000_000 + LOG_MARGIN_MS
        return self.runtime.service(LogsService).events_containing(spans[0].trace_id, first, last,
                                                                   limit=min(limit, MAX_TRACE_LOGS))


def _span(r: tuple) -> Span:
    (tid, sid, parent, service, name, kind, _route, start, dur, status, msg, scope, attrs, res, events,
     links) = r
    start, dur = int(start), int(dur)
    return Span(tid, sid, parent, service, name, kind, start, start + dur, status, msg, scope,
                orjson.loads(attrs), orjson.loads(res), orjson.loads(events), orjson.loads(links))

"""TracesService: store spans (group commit, as metrics), fetch a trace, search, summarise, link logs."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from rexwatch.columns import hex_column, utf8_column
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
    SpanColumns,
    SpanSearch,
)
from rexwatch.stores.telemetry.traces import SPANS_SCHEMA, TracesStore

TRACE_ID = re.compile(r"[0-9a-f]{32}")
ZERO_TRACE = "0" * 32
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
        return self.put_span_columns(SpanColumns.of(spans))

    def put_span_columns(self, cols: SpanColumns) -> PutSpansResult:
        """``put_spans`` for spans given column by column: every check and conversion runs on whole
        columns (numpy and Arrow), never per span in Python."""
        n = len(cols)
        if n == 0:
            return PutSpansResult(0)
        now = _ns(self.clock())
        oldest = now - self.retention_days * 86_400 * 1_000_000_000
        newest = now + int(FUTURE_LIMIT.total_seconds()) * 1_000_000_000
        trace_id, trace_len = hex_column(cols.trace_id)
        span_id, span_len = hex_column(cols.span_id)
        parent, parent_len = hex_column(cols.parent_span_id)
        start = np.fromiter(cols.start_ns, np.uint64, n)
        end = np.fromiter(cols.end_ns, np.uint64, n)
        kind = np.fromiter(cols.kind, np.int64, n)
        status = np.fromiter(cols.status, np.int64, n)
        # One mask per check, in the order a refused span's reason is picked.
        checks = (
            ((trace_len != 16) | _is_zero(cols.trace_id, 16), "a span's trace id is not 32 hex digits (or is all zero)"),
            ((span_len != 8) | _is_zero(cols.span_id, 8), "a span's span id is not 16 hex digits (or is all zero)"),
            ((parent_len != 0) & (parent_len != 8), "a span's parent span id is not 16 hex digits"),
            (end < start, "span {name} ends before it starts"),
            ((start < max(oldest, 0)) | (start > newest),
             "span {name} starts outside the retention period ({days} days) or over two hours ahead"),
            ((kind < 0) | (kind >= len(KINDS)) | (status < 0) | (status >= len(STATUSES)),
             "span {name} has an unknown kind or status"),
        )
        refused = np.zeros(n, bool)
        for mask, _ in checks:
            refused |= mask
        reason = ""
        if refused.any():
            first = int(np.argmax(refused))  # the reason given is the first refused span's
            why = next(why for mask, why in checks if mask[first])
            reason = why.format(name=repr(cols.name[first][:40]), days=self.retention_days)
        rejected = int(refused.sum())
        stored = n - rejected
        if stored:
            table = pa.Table.from_arrays([
                trace_id,
                span_id,
                parent,
                _names(cols.service),
                _names(cols.name),
                pa.array(_KIND_NAMES[np.clip(kind, 0, len(KINDS) - 1)], pa.string()),
                _names(cols.route),
                pa.array(start.view(np.int64), pa.timestamp("ns", tz="UTC")),
                pa.array(end - start, pa.uint64()),
                pa.array(_STATUS_NAMES[np.clip(status, 0, len(STATUSES) - 1)], pa.string()),
                pa.array(cols.status_message, pa.string()),
                pa.array(cols.scope, pa.string()),
                utf8_column(cols.attributes),
                utf8_column(cols.resource),
                utf8_column(cols.events),
                utf8_column(cols.links),
            ], schema=SPANS_SCHEMA)
            if rejected:
                table = table.filter(pa.array(~refused))
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


_KIND_NAMES = np.array(KINDS, dtype=object)
_STATUS_NAMES = np.array(STATUSES, dtype=object)


def _names(texts: list[str]) -> pa.Array:
    """A name column cut to ``MAX_NAME`` characters."""
    column = pa.array(texts, pa.string())
    if max(map(len, texts), default=0) > MAX_NAME:
        column = pc.utf8_slice_codeunits(column, 0, MAX_NAME)
    return column


def _is_zero(ids: list[bytes], width: int) -> np.ndarray:
    """Which ids are all zero bytes (checked per id only when one is)."""
    zero = bytes(width)
    if zero not in ids:
        return np.zeros(len(ids), bool)
    return np.fromiter((i == zero for i in ids), bool, len(ids))


def _span(r: tuple) -> Span:
    (tid, sid, parent, service, name, kind, _route, start, dur, status, msg, scope, attrs, res, events,
     links) = r
    start, dur = int(start), int(dur)
    return Span(tid, sid, parent, service, name, kind, start, start + dur, status, msg, scope,
                orjson.loads(attrs), orjson.loads(res), orjson.loads(events), orjson.loads(links))

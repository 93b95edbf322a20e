"""``POST /v1/logs``: OTLP log records into log groups.

Mapping (docs/intake.md):

- log group: the ``otlp_log_group`` template, ``/otel/{service.name}`` by
  default; ``{attr}`` is replaced by that resource attribute (characters a log
  group name cannot hold become ``_``; a missing ``service.name`` is
  ``unknown_service``). Groups and streams are created on first use.
- log stream: ``service.instance.id``, else ``host.name``, else ``otlp``.
- message: one JSON object per record, so filter patterns and Insights reach
  every part of it: ``body``, ``severityText``, ``severityNumber``,
  ``attributes``, ``resource`` (its attributes), ``scope`` (name, version),
  ``traceId`` and ``spanId`` (hex), ``flags``, and ``timeUnixNano`` /
  ``observedTimeUnixNano`` when given. Empty members are left out.
- timestamp: ``time_unix_nano``, else ``observed_time_unix_nano``, else now.

Records the logs service refuses (too old, too new, past retention, too large)
are reported in ``partial_success.rejected_log_records``.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from rexwatch.columns import utf8_column
from rexwatch.errors import Conflict, Invalid, NotFound
from rexwatch.intake import otlp
from rexwatch.intake.common import any_value, attributes
from rexwatch.runtime import Runtime
from rexwatch.services.logs import rules
from rexwatch.services.logs.model import INPUT_EVENT, LogEventBatch, RejectedEvents
from rexwatch.services.logs.service import LogsService

_TEMPLATE_KEY = re.compile(r"\{([^{}]+)\}")
_GROUP_UNSAFE = re.compile(r"[^.\-_/#A-Za-z0-9]")
_STREAM_UNSAFE = re.compile(r"[:*]")


def group_name(template: str, resource: dict[str, Any]) -> str:
    def fill(m: re.Match[str]) -> str:
        key = m.group(1)
        value = resource.get(key)
        if value is None or value == "":
            value = "unknown_service" if key == "service.name" else "unknown"
        return _GROUP_UNSAFE.sub("_", str(value))

    return _TEMPLATE_KEY.sub(fill, template)[:512]


def stream_name(resource: dict[str, Any]) -> str:
    for key in ("service.instance.id", "host.name"):
        value = resource.get(key)
        if value not in (None, ""):
            return _STREAM_UNSAFE.sub("_", str(value))[:512]
    return "otlp"


def record_json(rec: Any, resource: dict[str, Any], scope: dict[str, Any]) -> str:
    return record_bytes(rec, _tail(resource, scope)).decode()


def _tail(resource: dict[str, Any], scope: dict[str, Any]) -> bytes:
    """The members every record of one resource and scope ends with, serialised once for all of them."""
    parts = []
    if resource:
        parts.append(b'"resource":' + orjson.dumps(resource))
    if scope:
        parts.append(b'"scope":' + orjson.dumps(scope))
    return b",".join(parts)


def record_bytes(rec: Any, tail: bytes) -> bytes:
    """The record as one JSON object (UTF-8), ``tail`` (from ``_tail``) spliced in as its last members."""
    doc: dict[str, Any] = {}
    if rec.HasField("body"):
        body = rec.body
        doc["body"] = body.string_value or any_value(body)  # a non-empty string settles the oneof
    if rec.severity_text:
        doc["severityText"] = rec.severity_text
    if rec.severity_number:
        doc["severityNumber"] = rec.severity_number
    if rec.attributes:
        doc["attributes"] = attributes(rec.attributes)
    if rec.trace_id:
        doc["traceId"] = rec.trace_id.hex()
    if rec.span_id:
        doc["spanId"] = rec.span_id.hex()
    if rec.flags:
        doc["flags"] = rec.flags
    if rec.event_name:
        doc["eventName"] = rec.event_name
    if rec.time_unix_nano:
        doc["timeUnixNano"] = rec.time_unix_nano
    if rec.observed_time_unix_nano:
        doc["observedTimeUnixNano"] = rec.observed_time_unix_nano
    out = orjson.dumps(doc)
    if not tail:
        return out
    return out[:-1] + (b"," if doc else b"") + tail + b"}"


def _rejected_count(r: RejectedEvents, n: int) -> int:
    head = max(r.too_old_end or 0, r.expired_end or 0)
    tail = n - r.too_new_start if r.too_new_start is not None else 0
    return min(n, head + tail)


def chunks(events: list[tuple[int, str]]):
    """Split time-sorted events into PutLogEvents-sized batches (count, bytes and 24 h span)."""
    start, size = 0, 0
    for i, (ts, msg) in enumerate(events):
        # An ASCII string's length is its UTF-8 size (and isascii() is O(1)): skip encoding those.
        n = (len(msg) if msg.isascii() else len(msg.encode())) + rules.EVENT_OVERHEAD
        if i > start and (i - start >= rules.MAX_BATCH_EVENTS or size + n > rules.MAX_BATCH_BYTES
                          or ts - events[start][0] > rules.MAX_BATCH_SPAN_MS):
            yield events[start:i]
            start, size = i, 0
        size += n
    if start < len(events):
        yield events[start:]


def put_creating(logs: LogsService, group: str, stream: str, batch: LogEventBatch) -> RejectedEvents:
    for attempt in range(3):
        try:
            return logs.put_log_events(group, stream, batch).rejected
        except NotFound:
            if attempt == 2:
                raise
            try:
                logs.create_log_group(group)
            except Conflict:
                pass  # made by a concurrent request
            try:
                logs.create_log_stream(group, stream)
            except Conflict:
                pass
    raise AssertionError("unreachable")


def bounds(ts: list[int], sizes: list[int]) -> list[tuple[int, int]]:
    """``chunks`` for events given as columns: [start, end) of each PutLogEvents-sized batch."""
    n = len(ts)
    if n <= rules.MAX_BATCH_EVENTS and sum(sizes) + n * rules.EVENT_OVERHEAD <= rules.MAX_BATCH_BYTES and (
            ts[-1] - ts[0] <= rules.MAX_BATCH_SPAN_MS):
        return [(0, n)]  # one batch: the usual case, settled without a loop
    out, start, size = [], 0, 0
    for i in range(n):
        k = sizes[i] + rules.EVENT_OVERHEAD
        if i > start and (i - start >= rules.MAX_BATCH_EVENTS or size + k > rules.MAX_BATCH_BYTES
                          or ts[i] - ts[start] > rules.MAX_BATCH_SPAN_MS):
            out.append((start, i))
            start, size = i, 0
        size += k
    out.append((start, n))
    return out


def export(runtime: Runtime, req: ExportLogsServiceRequest) -> ExportLogsServiceResponse:
    logs = runtime.service(LogsService)
    template = runtime.settings.otlp_log_group
    now_ms = int(time.time() * 1000)
    # Per (group, stream): timestamps and messages (UTF-8 JSON), turned into Arrow columns whole.
    by_stream: dict[tuple[str, str], tuple[list[int], list[bytes]]] = defaultdict(lambda: ([], []))
    rejected, problems = 0, []
    for rl in req.resource_logs:
        resource = attributes(rl.resource.attributes)
        times, messages = by_stream[(group_name(template, resource), stream_name(resource))]
        for sl in rl.scope_logs:
            scope = {k: v for k, v in (("name", sl.scope.name), ("version", sl.scope.version)) if v}
            tail = _tail(resource, scope)
            for rec in sl.log_records:
                ns = rec.time_unix_nano or rec.observed_time_unix_nano
                raw = record_bytes(rec, tail)
                if len(raw) > rules.MAX_EVENT_BYTES:
                    rejected += 1
                    problems.append(f"a record of {len(raw)} bytes exceeds {rules.MAX_EVENT_BYTES} bytes")
                    continue
                times.append(ns // 1_000_000 if ns else now_ms)
                messages.append(raw)
    for (group, stream), (times, messages) in by_stream.items():
        if not times:
            continue
        ts = np.array(times, np.int64)
        column = utf8_column(messages)
        sizes = [len(m) for m in messages]
        if len(ts) > 1 and bool((ts[1:] < ts[:-1]).any()):  # out of order: a stable sort, as PutLogEvents needs
            order = np.argsort(ts, kind="stable")
            ts, column, sizes = ts[order], column.take(pa.array(order)), [sizes[i] for i in order.tolist()]
        ts_list = ts.tolist()
        for start, end in bounds(ts_list, sizes):
            batch = LogEventBatch(pa.StructArray.from_arrays(
                [pa.array(ts[start:end], pa.int64()), column.slice(start, end - start)], fields=list(INPUT_EVENT)))
            try:
                rejected += _rejected_count(put_creating(logs, group, stream, batch), end - start)
            except (Invalid, NotFound) as e:  # NotFound: a group of a team the sender is not in
                rejected += end - start
                problems.append(f"{group}: {e.message}")
    if rejected:
        reason = problems[0] if problems else "records too old, too new or past the log group's retention"
        return ExportLogsServiceResponse(partial_success=ExportLogsPartialSuccess(
            rejected_log_records=rejected, error_message=reason))
    return ExportLogsServiceResponse()


ROUTES = (("/v1/logs", lambda runtime: otlp.door(runtime, ExportLogsServiceRequest, export)),)

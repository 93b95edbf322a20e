"""Metric filters: datapoints from log events as they are ingested.

``MetricFilterService`` keeps the definitions (PutMetricFilter,
DescribeMetricFilters, DeleteMetricFilter) and evaluates them off the ingest
path: the logs ingest buffer hands every durably inserted batch to the
``FilterWorker`` (``filter_worker.py``), which matches it against the groups'
filters on its own thread, so no pattern can delay a PutLogEvents
acknowledgement. Matching events become datapoints through
``MetricsService.put_metric_data``, stamped with the event's timestamp. The
service attaches itself when the logs service is created
(``runtime.SERVICE_HOOKS``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from rexwatch.errors import Invalid, LimitExceeded, NotFound, QueryError
from rexwatch.lang.filterpattern import FilterPattern, compile_pattern
from rexwatch.services.metrics.filter_model import MetricFilter, Transformation
from rexwatch.services.metrics.filter_worker import FilterWorker
from rexwatch.services.metrics.model import FUTURE_LIMIT, PAST_LIMIT, UNITS, MetricDatum
from rexwatch.stores.control.metric_filters_repo import MetricFiltersRepo

log = logging.getLogger("rexwatch.metrics")

MAX_FILTERS_PER_GROUP = 100
MAX_DIMENSIONS = 3
CACHE_TTL_S = 2.0
_NAME = re.compile(r"^[^:*]{1,512}$")
_METRIC = re.compile(r"^[^:*$]{1,255}$")
_FIELD = re.compile(r"^\$(\.[^\s]+|[A-Za-z0-9_\-]+(\.[^\s]+)?)$")


@dataclass(frozen=True)
class CompiledFilter:
    name: str
    pattern: FilterPattern
    transformation: Transformation
    created_ms: int


def attach_to_logs(runtime: Any, logs_service: Any) -> None:
    """Runtime hook: called right after the logs service is created."""
    runtime.service(MetricFilterService).start(logs_service)


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _json_path(doc: Any, path: str) -> str | None:
    """The value at a dotted JSON path (``a.b``, ``tags[0]``) in text form, or None."""
    cur = doc
    for m in _PATH_PART.finditer(path):
        key, index = m.group(1), m.group(2)
        if key is not None and isinstance(cur, dict) and key in cur:
            cur = cur[key]
        elif index is not None and isinstance(cur, list) and int(index) < len(cur):
            cur = cur[int(index)]
        else:
            return None
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, dict | list) or cur is None:
        return None
    return str(cur)


def _binder(pattern: FilterPattern, t: Transformation, prematched: bool = False):
    """fn(message) -> the fields the transformation needs, or None when the pattern does not match.

    JSON fields are read with one orjson parse after ``match`` rather than binding every field.
    ``prematched``: the engine already selected matching messages, so only values are read.
    """
    refs = [r for r in (t.value, *(ref for _, ref in t.dimensions)) if r.startswith("$")]
    if not refs:
        if prematched:
            return lambda msg: {}
        return lambda msg: {} if pattern.match(msg) else None
    if all(r.startswith("$.") for r in refs) and pattern.kind != "delimited":

        def bind(msg: str) -> dict[str, str] | None:
            if not prematched and not pattern.match(msg):
                return None
            try:
                doc = orjson.loads(msg)
            except orjson.JSONDecodeError:
                return {}
            out = {}
            for r in refs:
                v = _json_path(doc, r[2:])
                if v is not None:
                    out[r] = v
            return out

        return bind
    return pattern.extract


def _field_value(values: dict[str, str], ref: str) -> str | None:
    v = values.get(ref)
    if v is None and ref.startswith("$") and not ref.startswith("$."):
        v = values.get(ref[1:])
    return v


def _check_transformation(t: Transformation, i: int) -> Transformation:
    """The transformation, checked against CloudWatch's rules; ``i`` is its 1-based position."""

    def bad(message: str, member: str) -> Invalid:
        return Invalid("{field} " + message, field=("metricTransformations", i, member))

    for member, value in (("metricName", t.metric_name), ("metricNamespace", t.namespace),
                          ("metricValue", t.value)):
        if not isinstance(value, str) or not value:
            raise bad("is required", member)
    if not _METRIC.match(t.metric_name):
        raise bad("must be 1-255 characters without ':', '*' or '$'", "metricName")
    if not _METRIC.match(t.namespace) or t.namespace.startswith("AWS/"):
        raise bad("must be 1-255 characters without ':', '*' or '$' and not start with 'AWS/'", "metricNamespace")
    value = t.value.strip()
    if len(value) > 100:
        raise bad("is longer than 100 characters", "metricValue")
    try:
        float(value)
    except ValueError:
        if not _FIELD.match(value):
            raise bad(f"{value!r} must be a number, $.json.field or $field", "metricValue")
    default = t.default_value
    if default is not None and (isinstance(default, bool) or not isinstance(default, int | float)
                                or not math.isfinite(default)):
        raise bad("must be a finite number", "defaultValue")
    if len(t.dimensions) > MAX_DIMENSIONS:
        raise bad(f"holds at most {MAX_DIMENSIONS} entries", "dimensions")
    if t.dimensions and default is not None:
        raise bad("cannot be set together with dimensions on a metric transformation", "defaultValue")
    for k, v in t.dimensions:
        if not isinstance(k, str) or not k or len(k) > 255 or not isinstance(v, str) or not _FIELD.match(v):
            raise bad(f"[{k!r}] must name a field of the event ($.json.field or $field)", "dimensions")
    if t.unit is not None and t.unit not in UNITS:
        raise bad(f"{t.unit!r} is not a CloudWatch unit", "unit")
    return Transformation(t.metric_name, t.namespace, value, None if default is None else float(default),
                          tuple(sorted(t.dimensions)), t.unit)


class MetricFilterService:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.store = MetricFiltersRepo(runtime.control)
        self._cache: dict[int, tuple[float, list[CompiledFilter]]] = {}
        self._groups_cache: tuple[float, frozenset[int]] | None = None
        self._lock = threading.Lock()
        self.worker: FilterWorker | None = None

    def start(self, logs_service: Any) -> None:
        """Start evaluating filters on what the logs service ingests (the runtime hook calls this)."""
        from rexwatch.services.metrics.service import MetricsService

        # Created first so it closes after the worker, which publishes into it.
        self.runtime.service(MetricsService)
        self.worker = FilterWorker(self, logs_service, self.runtime)
        logs_service.add_ingest_listener(self.worker.offer)
        self.runtime.on_close(self.worker.close)

    def _logs(self):
        from rexwatch.services.logs import LogsService

        return self.runtime.service(LogsService)

    def _group(self, name: str | None):
        if not name:
            raise Invalid("logGroupName is required", field="logGroupName")
        return self._logs().catalog.group(name)

    # ---- definitions ---------------------------------------------------------------------------
    def put_metric_filter(
        self,
        group_name: str,
        filter_name: str,
        pattern: str | None,
        transformations: list[Transformation],
        *,
        apply_on_transformed_logs: bool = False,
    ) -> None:
        group = self._group(group_name)
        if not filter_name or not _NAME.match(filter_name):
            raise Invalid("filterName must be 1-512 characters without ':' or '*'", field="filterName")
        pattern = pattern or ""
        if len(pattern) > 1024:
            raise Invalid("filterPattern is longer than 1024 characters", field="filterPattern")
        try:
            compile_pattern(pattern)
        except QueryError as e:
            raise Invalid(f"Invalid metric filter pattern: {e.message}", field="filterPattern")
        if not isinstance(transformations, list) or len(transformations) != 1:
            raise Invalid(
                "metricTransformations must hold exactly one transformation", field="metricTransformations"
            )
        t = _check_transformation(transformations[0], 1)
        existing = {r.name for r in self.store.for_group(group.id)}
        if filter_name not in existing and len(existing) >= MAX_FILTERS_PER_GROUP:
            raise LimitExceeded(f"a log group may have at most {MAX_FILTERS_PER_GROUP} metric filters")
        self.store.upsert(MetricFilter(group.id, group.name, filter_name, pattern, (t,),
                                       bool(apply_on_transformed_logs), int(time.time() * 1000)))
        self._forget(group.id)

    def delete_metric_filter(self, group_name: str, filter_name: str) -> None:
        group = self._group(group_name)
        if not self.store.delete(group.id, filter_name or ""):
            raise NotFound(f"The specified metric filter does not exist: {filter_name}")
        self._forget(group.id)

    def describe_metric_filters(
        self,
        group_name: str | None = None,
        prefix: str | None = None,
        metric_name: str | None = None,
        metric_namespace: str | None = None,
        next_token: str | None = None,
        limit: int | None = None,
    ) -> tuple[list[MetricFilter], str | None]:
        if (metric_name is None) != (metric_namespace is None):
            raise Invalid("metricName and metricNamespace must be given together", field="metricName")
        if prefix is not None and group_name is None:
            raise Invalid("filterNamePrefix needs logGroupName", field="filterNamePrefix")
        limit = 50 if limit is None else limit
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50:
            raise Invalid("limit must be between 1 and 50", field="limit")
        if group_name is not None:
            rows = self.store.for_groups([self._group(group_name).id], prefix)
        else:
            live = {g.id for g in self._logs().catalog.list_groups()}
            rows = [r for r in self.store.for_groups(None, None) if r.group_id in live]
        if metric_name is not None:
            rows = [r for r in rows if any(t.metric_name == metric_name and t.namespace == metric_namespace
                                           for t in r.transformations)]
        offset = 0
        if next_token is not None:
            if not isinstance(next_token, str) or not (next_token.isascii() and next_token.isdigit()) \
                    or len(next_token) > 12:
                raise Invalid("nextToken is not valid", field="nextToken")
            offset = int(next_token)
        page = rows[offset : offset + limit]
        return page, (str(offset + limit) if offset + limit < len(rows) else None)

    # ---- evaluation (on the filter worker's thread) ----------------------------------------------
    def _forget(self, group_id: int) -> None:
        with self._lock:
            self._cache.pop(group_id, None)
            self._groups_cache = None

    def filtered_groups(self) -> frozenset[int]:
        """Ids of the log groups that have metric filters (cached briefly; writes invalidate it)."""
        hit = self._groups_cache
        if hit and hit[0] > time.monotonic():
            return hit[1]
        ids = frozenset(self.store.group_ids())
        with self._lock:
            self._groups_cache = (time.monotonic() + CACHE_TTL_S, ids)
        return ids

    def filters_for(self, group_id: int) -> list[CompiledFilter]:
        now = time.monotonic()
        hit = self._cache.get(group_id)
        if hit and hit[0] > now:
            return hit[1]
        compiled = []
        for r in self.store.for_group(group_id):
            try:
                compiled.append(CompiledFilter(r.name, compile_pattern(r.pattern),
                                               _check_transformation(r.transformations[0], 1), r.created_ms))
            except Exception:
                log.exception("metric filter %r of group %d cannot be compiled", r.name, group_id)
        with self._lock:
            self._cache[group_id] = (now + CACHE_TTL_S, compiled)
        return compiled

    def _candidates(self, f: CompiledFilter, messages: pa.Array) -> tuple[range | list[int], bool]:
        """Rows the pattern matches, found by the telemetry engine over the whole batch, and
        True; the Python binder then only reads the values of those rows. Every row and
        False (match in Python) when the engine cannot evaluate the pattern. A pattern that
        runs past the store's query limits matches nothing in this batch (it is logged)."""
        if not f.pattern.text.strip():
            return range(len(messages)), True  # the empty pattern matches everything
        try:
            predicate, params = f.pattern.sql(message_col="message", indexed_fields=frozenset())
            return self.runtime.telemetry.matching_rows(predicate, params, messages), True
        except LimitExceeded as e:
            log.warning("metric filter %r skipped %d events: %s", f.name, len(messages), e.message)
            self.runtime.metrics.worker_ticks.labels("metric_filters", "pattern_over_limit").inc()
            return [], True
        except Exception:
            log.warning("metric filter %r: engine prefilter failed; matching in Python", f.name, exc_info=True)
            return range(len(messages)), False

    def evaluate(self, group_id: int, events: pa.Table) -> None:
        """Turn the matching events of one group (columns ts, ingest_ts, message) into datapoints.

        Each filter sees only events ingested after it was created. Raises when publishing fails
        for a reason other than the data itself, so the worker retries the batch.
        """
        for f in self.filters_for(group_id):
            part = events
            if part.num_rows and part.column("ingest_ts").cast(pa.int64())[0].as_py() < f.created_ms:
                part = part.filter(pc.greater_equal(part.column("ingest_ts").cast(pa.int64()),
                                                    pa.scalar(f.created_ms, pa.int64())))
            if part.num_rows:
                self._publish(f, part)

    def _publish(self, f: CompiledFilter, events: pa.Table) -> None:
        message_col = events.column("message").combine_chunks()
        messages = message_col.to_pylist()
        ts_ms = events.column("ts").cast(pa.int64()).to_pylist()
        now = time.time()
        lo, hi = (
            (now - PAST_LIMIT.total_seconds() + 60) * 1000,
            (now + FUTURE_LIMIT.total_seconds() - 60) * 1000,
        )
        from rexwatch.services.metrics.service import MetricsService

        metrics = self.runtime.service(MetricsService)
        t = f.transformation
        const = t.constant()
        rows, prematched = self._candidates(f, message_col)
        bind = _binder(f.pattern, t, prematched)
        # Matches are folded into one Values/Counts datum per (dimensions, second).
        buckets: dict[tuple, dict[float, int]] = {}
        matched_minutes: set[int] = set()
        for row in rows:
            msg, ms = messages[row], ts_ms[row]
            if not lo <= ms <= hi:
                continue
            values = bind(msg)
            if values is None:
                continue
            matched_minutes.add(ms // 60_000)
            if const is not None:
                value = const
            else:
                raw = _field_value(values, t.value)
                try:
                    value = float(raw) if raw is not None else None
                except ValueError:
                    value = None
                if value is None or value != value or value in (float("inf"), float("-inf")):
                    continue
            dims = []
            for name, ref in t.dimensions:
                v = _field_value(values, ref)
                if not v:
                    break
                dims.append((name, v[:1024]))
            else:
                counts = buckets.setdefault((tuple(dims), ms // 1000), {})
                counts[value] = counts.get(value, 0) + 1
        data: list[MetricDatum] = []
        for (dims_key, sec), counts in buckets.items():
            items = list(counts.items())
            for k in range(0, len(items), 150):
                chunk = items[k : k + 150]
                data.append(
                    MetricDatum(
                        t.metric_name,
                        list(dims_key),
                        dt.datetime.fromtimestamp(sec, dt.UTC),
                        values=[v for v, _ in chunk],
                        counts=[float(c) for _, c in chunk],
                        unit=t.unit,
                    )
                )
        if t.default_value is not None:
            # Minutes that received events but no match report the default value.
            idle = {ms // 60_000 for ms in ts_ms if lo <= ms <= hi} - matched_minutes
            data += [
                MetricDatum(
                    t.metric_name,
                    [],
                    dt.datetime.fromtimestamp(m * 60, dt.UTC),
                    value=t.default_value,
                    unit=t.unit,
                )
                for m in sorted(idle)
            ]
        for i in range(0, len(data), 1000):
            try:
                metrics.put_metric_data(t.namespace, data[i : i + 1000])
            except Invalid as e:  # the data itself is refused: retrying cannot help
                log.warning("metric filter %r could not publish: %s", f.name, e.message)

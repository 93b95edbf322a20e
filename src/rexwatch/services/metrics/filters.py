"""Metric filters: datapoints from log events as they are ingested.

``MetricFilterService`` keeps the definitions (PutMetricFilter,
DescribeMetricFilters, DeleteMetricFilter) and listens to the logs ingest
path: every batch the logs service has durably inserted is matched against
the group's filters, and matching events become datapoints through
``MetricsService.put_metric_data``, stamped with the event's timestamp. No job
re-reads logs. It attaches itself when the logs service is created
(``runtime.SERVICE_HOOKS``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from rexwatch.errors import Invalid, LimitExceeded, NotFound, QueryError
from rexwatch.lang.filterpattern import FilterPattern, compile_pattern
from rexwatch.services.metrics.filter_store import FilterRow, FilterStore
from rexwatch.services.metrics.model import FUTURE_LIMIT, PAST_LIMIT, UNITS, Datum

log = logging.getLogger("rexwatch.metrics")

MAX_FILTERS_PER_GROUP = 100
MAX_DIMENSIONS = 3
CACHE_TTL_S = 2.0
_NAME = re.compile(r"^[^:*]{1,512}$")
_METRIC = re.compile(r"^[^:*$]{1,255}$")
_FIELD = re.compile(r"^\$(\.[^\s]+|[A-Za-z0-9_\-]+(\.[^\s]+)?)$")


@dataclass(frozen=True)
class Transformation:
    metric_name: str
    namespace: str
    value: str  # a number, "$.json.path" or "$field"
    default_value: float | None
    dimensions: tuple[tuple[str, str], ...]
    unit: str | None

    def constant(self) -> float | None:
        try:
            return float(self.value)
        except ValueError:
            return None


@dataclass(frozen=True)
class CompiledFilter:
    name: str
    pattern: FilterPattern
    transformation: Transformation


def attach_to_logs(runtime: Any, logs_service: Any) -> None:
    """Runtime hook: called right after the logs service is created."""
    logs_service.add_ingest_listener(runtime.service(MetricFilterService).on_ingest)


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


def _bad(message: str, field: str) -> Invalid:
    return Invalid(message, field=field)


def _transformation(t: dict[str, Any], i: int) -> Transformation:
    f = f"metricTransformations.{i}"
    for key in ("metricName", "metricNamespace", "metricValue"):
        if not t.get(key):
            raise _bad(f"{f}.{key} is required", f"{f}.{key}")
    if not _METRIC.match(t["metricName"]):
        raise _bad(f"{f}.metricName must be 1-255 characters without ':', '*' or '$'", f"{f}.metricName")
    if not _METRIC.match(t["metricNamespace"]) or t["metricNamespace"].startswith("AWS/"):
        raise _bad(
            f"{f}.metricNamespace must be 1-255 characters without ':', '*' or '$' and not start with 'AWS/'",
            f"{f}.metricNamespace",
        )
    value = str(t["metricValue"]).strip()
    if len(value) > 100:
        raise _bad(f"{f}.metricValue is longer than 100 characters", f"{f}.metricValue")
    try:
        float(value)
    except ValueError:
        if not _FIELD.match(value):
            raise _bad(
                f"{f}.metricValue {value!r} must be a number, $.json.field or $field", f"{f}.metricValue"
            )
    default = t.get("defaultValue")
    if default is not None and (isinstance(default, bool) or not isinstance(default, int | float)):
        raise _bad(f"{f}.defaultValue must be a number", f"{f}.defaultValue")
    dims = t.get("dimensions") or {}
    if not isinstance(dims, dict) or len(dims) > MAX_DIMENSIONS:
        raise _bad(f"{f}.dimensions holds at most {MAX_DIMENSIONS} entries", f"{f}.dimensions")
    if dims and default is not None:
        raise _bad(
            "defaultValue and dimensions cannot both be set on a metric transformation", f"{f}.defaultValue"
        )
    for k, v in dims.items():
        if not k or len(k) > 255 or not isinstance(v, str) or not _FIELD.match(v):
            raise _bad(
                f"{f}.dimensions[{k!r}] must name a field of the event ($.json.field or $field)",
                f"{f}.dimensions",
            )
    unit = t.get("unit")
    if unit is not None and unit not in UNITS:
        raise _bad(f"{f}.unit {unit!r} is not a CloudWatch unit", f"{f}.unit")
    return Transformation(
        t["metricName"],
        t["metricNamespace"],
        value,
        None if default is None else float(default),
        tuple(sorted(dims.items())),
        unit,
    )


def _to_aws(t: Transformation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "metricName": t.metric_name,
        "metricNamespace": t.namespace,
        "metricValue": t.value,
    }
    if t.default_value is not None:
        out["defaultValue"] = t.default_value
    if t.dimensions:
        out["dimensions"] = dict(t.dimensions)
    if t.unit:
        out["unit"] = t.unit
    return out


class MetricFilterService:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.store = FilterStore(runtime.control)
        self._cache: dict[int, tuple[float, list[CompiledFilter]]] = {}
        self._lock = threading.Lock()

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
        transformations: list[dict[str, Any]],
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
        t = _transformation(transformations[0], 1)
        existing = {r.filter_name for r in self.store.for_group(group.id)}
        if filter_name not in existing and len(existing) >= MAX_FILTERS_PER_GROUP:
            raise LimitExceeded(f"a log group may have at most {MAX_FILTERS_PER_GROUP} metric filters")
        self.store.upsert(
            FilterRow(
                group.id,
                group.name,
                filter_name,
                pattern,
                [_to_aws(t)],
                apply_on_transformed_logs,
                int(time.time() * 1000),
            )
        )
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
    ) -> tuple[list[dict[str, Any]], str | None]:
        if (metric_name is None) != (metric_namespace is None):
            raise Invalid("metricName and metricNamespace must be given together", field="metricName")
        if prefix is not None and group_name is None:
            raise Invalid("filterNamePrefix needs logGroupName", field="filterNamePrefix")
        limit = 50 if limit is None else limit
        if not 1 <= limit <= 50:
            raise Invalid("limit must be between 1 and 50", field="limit")
        if group_name is not None:
            rows = self.store.for_groups([self._group(group_name).id], prefix)
        else:
            live = {g.id for g in self._logs().catalog.list_groups()}
            rows = [r for r in self.store.for_groups(None, None) if r.group_id in live]
        if metric_name is not None:
            rows = [
                r
                for r in rows
                if any(
                    t["metricName"] == metric_name and t["metricNamespace"] == metric_namespace
                    for t in r.transformations
                )
            ]
        try:
            offset = int(next_token) if next_token else 0
        except ValueError:
            raise Invalid("nextToken is not valid", field="nextToken")
        page = rows[offset : offset + limit]
        out = [
            {
                "filterName": r.filter_name,
                "filterPattern": r.filter_pattern,
                "metricTransformations": r.transformations,
                "creationTime": r.created_ms,
                "logGroupName": r.log_group_name,
                "applyOnTransformedLogs": r.apply_on_transformed_logs,
            }
            for r in page
        ]
        return out, (str(offset + limit) if offset + limit < len(rows) else None)

    # ---- ingest --------------------------------------------------------------------------------
    def _forget(self, group_id: int) -> None:
        with self._lock:
            self._cache.pop(group_id, None)

    def filters_for(self, group_id: int) -> list[CompiledFilter]:
        now = time.monotonic()
        hit = self._cache.get(group_id)
        if hit and hit[0] > now:
            return hit[1]
        compiled = []
        for r in self.store.for_group(group_id):
            try:
                compiled.append(
                    CompiledFilter(
                        r.filter_name,
                        compile_pattern(r.filter_pattern),
                        _transformation(r.transformations[0], 1),
                    )
                )
            except Exception:
                log.exception("metric filter %r of group %d cannot be compiled", r.filter_name, group_id)
        with self._lock:
            self._cache[group_id] = (now + CACHE_TTL_S, compiled)
        return compiled

    def _candidates(self, f: CompiledFilter, messages: pa.Array) -> tuple[range | list[int], bool]:
        """Rows the pattern matches, found by the telemetry engine over the whole batch, and
        True; the Python binder then only reads the values of those rows. Every row and
        False (match in Python) when the engine cannot evaluate the pattern."""
        if not f.pattern.text.strip():
            return range(len(messages)), True  # the empty pattern matches everything
        try:
            predicate, params = f.pattern.sql(message_col="message", indexed_fields=frozenset())
            return self.runtime.telemetry.matching_rows(predicate, params, messages), True
        except Exception:
            log.warning("metric filter %r: engine prefilter failed; matching in Python", f.name, exc_info=True)
            return range(len(messages)), False

    def on_ingest(self, group_name: str, group_id: int, events: pa.Table) -> None:
        """Logs ingest listener: turn matching events of a durably stored batch into datapoints."""
        filters = self.filters_for(group_id)
        if not filters or events.num_rows == 0:
            return
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
        for f in filters:
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
            data: list[Datum] = []
            for (dims_key, sec), counts in buckets.items():
                items = list(counts.items())
                for k in range(0, len(items), 150):
                    chunk = items[k : k + 150]
                    data.append(
                        Datum(
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
                    Datum(
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
                except Exception:
                    log.exception("metric filter %r of %s could not publish", f.name, group_name)

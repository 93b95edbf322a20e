"""GetMetricData: MetricStat queries read in one batch, metric math, labels, ordering and paging."""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import orjson

from rexwatch.errors import (
    FieldPath,
    Invalid,
    InvalidCombination,
    InvalidExpression,
    InvalidToken,
    MissingParameter,
    QueryError,
)
from rexwatch.lang.mathexpr import parse
from rexwatch.services.metrics.matheval import Evaluator, Series
from rexwatch.services.metrics.model import (
    UNITS,
    MetricDataPage,
    MetricDataQuery,
    MetricDataResult,
    SeriesKey,
)
from rexwatch.services.metrics.put import canonical_dims, check_dimensions, check_namespace
from rexwatch.services.metrics.rules import check_period, percentile_level
from rexwatch.timeparse import as_utc

if TYPE_CHECKING:
    from rexwatch.services.metrics.service import MetricsService

MAX_QUERIES = 500
DEFAULT_MAX_DATAPOINTS = 100_800
# CloudWatch's bound on the datapoints one query may ask for (slots of its period in the range).
# Checked before anything is read or allocated; the work itself is sized by the data that exists.
MAX_POINTS_PER_QUERY = 100_800


def slots(start_s: int, end_s: int, period: int) -> int:
    """How many periods of ``period`` seconds the range [start, end) asks for, the start rounded
    down to the period as CloudWatch does. Integer arithmetic: any range gets an answer."""
    first = start_s - start_s % period
    return max(0, -(-(end_s - first) // period))


def too_many(n: int, what: str, fld: FieldPath) -> InvalidCombination:
    return InvalidCombination(
        f"You have requested up to {n} datapoints for {what}, which exceeds the limit of "
        f"{MAX_POINTS_PER_QUERY}. You may reduce the datapoints requested by increasing Period, "
        f"or decreasing the time range.",
        field=fld,
    )
_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")


def _bad(message: str, fld: FieldPath | str) -> Invalid:
    return Invalid(message, field=fld)


def _validate(queries: Sequence[MetricDataQuery], start_s: int, end_s: int) -> None:
    if not queries:
        raise MissingParameter(
            "The parameter MetricDataQueries is required.",
            field="MetricDataQueries",
        )
    if len(queries) > MAX_QUERIES:
        raise _bad(f"At most {MAX_QUERIES} MetricDataQueries are allowed in one call.", "MetricDataQueries")
    seen: set[str] = set()
    for i, q in enumerate(queries, 1):
        f: FieldPath = ("MetricDataQueries", i)
        if not q.id:
            raise MissingParameter("The parameter {field} is required.", field=(*f, "Id"))
        if not _ID.match(q.id) or len(q.id) > 255:
            raise _bad(
                f"The value {q.id} for parameter {{field}} is invalid: an Id starts with a lowercase "
                f"letter and holds only letters, digits and underscores.",
                (*f, "Id"),
            )
        if q.id in seen:
            raise _bad(f"The value {q.id} for parameter {{field}} is invalid: Ids must be unique.", (*f, "Id"))
        seen.add(q.id)
        if (q.metric_stat is None) == (q.expression is None):
            raise InvalidCombination(
                "Exactly one of {field} and Expression must be given in each query.",
                field=(*f, "MetricStat"),
            )
        if q.metric_stat is not None:
            ms = q.metric_stat
            mf = (*f, "MetricStat")
            check_namespace(ms.metric.namespace, for_put=False)
            if not ms.metric.metric_name:
                raise MissingParameter("The parameter {field} is required.", field=(*mf, "Metric", "MetricName"))
            check_dimensions(ms.metric.dimensions, (*mf, "Metric"))
            period = check_period(ms.period, (*mf, "Period"))
            n = slots(start_s, end_s, period)
            if n > MAX_POINTS_PER_QUERY:
                raise too_many(n, "{field}", (*mf, "Period"))
            if not ms.stat:
                raise MissingParameter("The parameter {field} is required.", field=(*mf, "Stat"))
            try:
                percentile_level(ms.stat)
            except Invalid:
                raise _bad(f"The value {ms.stat} for parameter {{field}} is invalid.", (*mf, "Stat"))
            if ms.unit is not None and ms.unit not in UNITS:
                raise _bad(f"The value {ms.unit} for parameter {{field}} is invalid.", (*mf, "Unit"))
    if not any(q.return_data for q in queries):
        raise _bad("At least one query must have ReturnData set to true.", "MetricDataQueries")


def get_metric_data(
    svc: MetricsService,
    queries: Sequence[MetricDataQuery],
    start: dt.datetime | None,
    end: dt.datetime | None,
    *,
    scan_by: str = "TimestampDescending",
    max_datapoints: int | None = None,
    next_token: str | None = None,
) -> MetricDataPage:
    if start is None or end is None:
        which = "StartTime" if start is None else "EndTime"
        raise MissingParameter(f"The parameter {which} is required.", field=which)
    start, end = as_utc(start), as_utc(end)
    if start >= end:
        raise _bad("The parameter StartTime must be less than the parameter EndTime.", "StartTime")
    if scan_by not in ("TimestampDescending", "TimestampAscending"):
        raise _bad(f"The value {scan_by} for parameter ScanBy is invalid.", "ScanBy")
    limit = DEFAULT_MAX_DATAPOINTS if max_datapoints is None else max_datapoints
    if limit < 1:
        raise _bad(f"The value {limit} for parameter MaxDatapoints is invalid.", "MaxDatapoints")
    start_s, end_s = math.floor(start.timestamp()), math.ceil(end.timestamp())
    _validate(queries, start_s, end_s)
    by_id = {q.id: q for q in queries}

    # 1. Every MetricStat in one batch (one ClickHouse query per storage tier).
    stat_qs = [q for q in queries if q.metric_stat is not None]
    keys: dict[SeriesKey, int] = {}
    series_slots: list[int] = []
    levels: set[float] = set()
    for q in stat_qs:
        ms = q.metric_stat
        assert ms is not None
        lv = percentile_level(ms.stat)
        if lv is not None:
            levels.add(lv)
        key = SeriesKey(
            ms.metric.namespace,
            ms.metric.metric_name,
            canonical_dims(ms.metric.dimensions),
            ms.unit or "",
            int(ms.period or 60),
        )
        series_slots.append(keys.setdefault(key, len(keys)))
    stats = svc.series_statistics(list(keys), start, end, sorted(levels)) if keys else []
    values: dict[str, object] = {}
    for q, slot in zip(stat_qs, series_slots, strict=True):
        ms = q.metric_stat
        assert ms is not None
        period = int(ms.period or 60)
        # Only the periods that hold data: nothing is sized by the range itself.
        st = stats[slot]
        v = st.values(ms.stat)
        ok = ~np.isnan(v)
        props = {"MetricName": ms.metric.metric_name, "Namespace": ms.metric.namespace, "Stat": ms.stat,
                 "Period": str(period), **{f"Dim.{k}": val for k, val in ms.metric.dimensions}}
        label = q.label if q.label and "${" not in q.label else ms.metric.metric_name
        values[q.id] = Series(st.t[ok], v[ok], label, period, q.id, props)
    metric_list = [values[q.id] for q in stat_qs]

    def search(text: str, stat: str, period: int) -> list[Series]:
        from rexwatch.lang.search import MAX_RESULTS, parse_search

        sq = parse_search(text)
        try:
            check_period(period, ("SEARCH", "period"))
            level = percentile_level(stat)
        except Invalid as e:
            raise QueryError(e.message, query=text, start=0)
        n = slots(start_s, end_s, period)
        if n > MAX_POINTS_PER_QUERY:
            raise QueryError(
                f"SEARCH() would ask for {n} datapoints per series, more than the limit of "
                f"{MAX_POINTS_PER_QUERY}: increase its period or decrease the time range",
                query=text, start=0,
            )
        found, token = [], None
        for _ in range(50):
            infos, token = svc.list_metrics(sq.namespace, None, next_token=token)
            found += [m for m in infos if sq.matches(m)]
            if not token or len(found) >= MAX_RESULTS:
                break
        found = found[:MAX_RESULTS]
        if not found:
            return []
        keys = [
            SeriesKey(m.namespace, m.metric_name, canonical_dims(m.dimensions), "", period) for m in found
        ]
        st_all = svc.series_statistics(keys, start, end, [level] if level is not None else [])
        out = []
        for m, st in zip(found, st_all, strict=True):
            v = st.values(stat)
            ok = ~np.isnan(v)
            label = " ".join(val for _, val in m.dimensions) or m.metric_name
            if m.dimensions and sq.schema is None:
                label = f"{m.metric_name} {label}"
            # The metric's properties, so a ${PROP('Dim.Name')} label names each series found.
            props = {"MetricName": m.metric_name, "Namespace": m.namespace, "Stat": stat, "Period": str(period),
                     **{f"Dim.{k}": val for k, val in m.dimensions}}
            out.append(Series(st.t[ok], v[ok], label, period, "", props))
        return out

    # 2. Expressions, each once, in dependency order.
    parsed = {}
    for i, q in enumerate(queries, 1):
        if q.expression is not None:
            try:
                parsed[q.id] = parse(q.expression)
            except QueryError as e:
                raise InvalidExpression(
                    f"Error in expression {q.id} ({{field}}): {e.message}",
                    field=("MetricDataQueries", i, "Expression"),
                ) from e
    active: list[str] = []

    def resolve(name: str, pos: int, current: str) -> object:
        if name in values:
            return values[name]
        if name not in by_id:
            raise QueryError(
                f"unknown metric or expression id {name!r}",
                query=by_id[current].expression or "",
                start=pos,
                end=pos + len(name),
            )
        return evaluate(name)

    def evaluate(qid: str) -> object:
        if qid in values:
            return values[qid]
        if qid in active:
            raise InvalidExpression(
                f"Expressions refer to each other in a cycle: {' -> '.join([*active, qid])}.",
                field="MetricDataQueries",
            )
        active.append(qid)
        q = by_id[qid]
        ev = Evaluator(q.expression or "", lambda n, p: resolve(n, p, qid), lambda: list(metric_list), search,
                       span=(start_s, end_s), max_points=MAX_POINTS_PER_QUERY)
        try:
            result = ev.eval(parsed[qid])
        except QueryError as e:
            idx = next(i for i, x in enumerate(queries, 1) if x.id == qid)
            raise InvalidExpression(
                f"Error in expression {qid} ({{field}}): {e.message}",
                field=("MetricDataQueries", idx, "Expression"),
            ) from e
        active.pop()
        if isinstance(result, Series) and q.label and "${" not in q.label:
            result = Series(result.t, result.v, q.label, result.period)
        elif isinstance(result, Series) and result.label in ("SUM", "AVG", "MIN", "MAX", "STDDEV"):
            result = Series(result.t, result.v, qid, result.period)
        values[qid] = result
        return result

    for qid in parsed:
        evaluate(qid)

    # 3. Results in query order, ordered by time, then paged by datapoints.
    results: list[MetricDataResult] = []
    descending = scan_by == "TimestampDescending"
    for q in queries:
        if not q.return_data:
            continue
        val = values[q.id]
        if isinstance(val, float):
            # A scalar result is reported at every timestamp of the range's first metric (or none).
            base = metric_list[0] if metric_list else None
            if base is None or np.isnan(val):
                items = [Series(np.zeros(0, dtype=np.int64), np.zeros(0), q.label or q.id)]
            else:
                # Every period of the first metric's grid (bounded: that query passed the limit).
                first = start_s - start_s % base.period
                grid = np.arange(first, end_s, base.period, dtype=np.int64)
                items = [Series(grid, np.full(grid.shape, val), q.label or q.id)]
        elif isinstance(val, Series):
            items = [val]
        else:
            items = list(val)  # type: ignore[arg-type]
        for s in items:
            ok = ~np.isnan(s.v)
            t, v = s.t[ok], s.v[ok]
            if descending:
                t, v = t[::-1], v[::-1]
            label = s.label if s.label else q.id
            if q.label and "${" in q.label:
                label = expand_label(q.label, label, s.props or {}, v)
            results.append(_Pending(q.id, label, t, v))
    return _page(results, limit, next_token)


_DYNAMIC = re.compile(r"\$\{(LABEL|SUM|AVG|MIN|MAX|FIRST|LAST|PROP\('([^')]*)'\))\}")


def expand_label(template: str, label: str, props: dict[str, str], values: np.ndarray) -> str:
    """CloudWatch dynamic labels: ${LABEL}, ${SUM|AVG|MIN|MAX|FIRST|LAST} over the returned points,
    ${PROP('MetricName'|'Namespace'|'Stat'|'Period'|'Dim.<name>')}. ``values`` is in returned order."""

    def stat(fn: str) -> str:
        if not len(values):
            return ""
        x = {"SUM": np.sum, "AVG": np.mean, "MIN": np.min, "MAX": np.max}.get(fn)
        # FIRST and LAST follow the order the points are returned in (ScanBy).
        v = float(x(values)) if x else float(values[0] if fn == "FIRST" else values[-1])
        return f"{v:.6g}"

    def sub(m: re.Match) -> str:
        key = m.group(1)
        if key == "LABEL":
            return label
        if key.startswith("PROP"):
            return props.get(m.group(2), "")
        return stat(key)

    return _DYNAMIC.sub(sub, template)


@dataclass
class _Pending:
    """A result before paging: numpy vectors, turned into Python values only for the page sent."""

    id: str
    label: str
    t: np.ndarray
    v: np.ndarray


def _page(results: list[_Pending], limit: int, token: str | None) -> MetricDataPage:
    r0, p0 = 0, 0
    if token:
        try:
            d = orjson.loads(base64.urlsafe_b64decode(token.encode()))
            r0, p0 = int(d["r"]), int(d["p"])
            if r0 < 0 or p0 < 0:
                raise ValueError
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            raise InvalidToken("The NextToken is not valid.", field="NextToken")
    out: list[MetricDataResult] = []
    budget = limit
    for ri in range(r0, len(results)):
        r = results[ri]
        start = p0 if ri == r0 else 0
        t = r.t[start : start + budget]
        out.append(
            MetricDataResult(
                r.id,
                r.label,
                [dt.datetime.fromtimestamp(int(x), dt.UTC) for x in t],
                [float(x) for x in r.v[start : start + len(t)]],
            )
        )
        budget -= len(t)
        if start + len(t) < len(r.t):
            out[-1].status = "PartialData"
            nt = base64.urlsafe_b64encode(orjson.dumps({"r": ri, "p": start + len(t)})).decode()
            return MetricDataPage(out, nt)
        if budget == 0 and ri + 1 < len(results):
            nt = base64.urlsafe_b64encode(orjson.dumps({"r": ri + 1, "p": 0})).decode()
            return MetricDataPage(out, nt)
    return MetricDataPage(out)

"""Metrics explorer: namespace → metric → dimensions (ListMetrics), and a graph of one or more
series with a statistic, a period, the shared time range and a metric-math expression over them.

The whole view lives in the URL (``explorer_url`` builds it), so alarm pages and anything else can
link to a graph. Every read goes through MetricsService (GetMetricData and ListMetrics) and
AlarmsService (the thresholds of the alarms on a graphed metric).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from rexwatch.errors import Invalid, QueryError, RexwatchError
from rexwatch.services.alarms import AlarmsService
from rexwatch.services.metrics import MetricsService
from rexwatch.services.metrics.model import MetricDataQuery, MetricId, MetricStatSpec
from rexwatch.services.metrics.rules import percentile_level
from rexwatch.web import templates
from rexwatch.web.alarm_form import MISSING, OPERATORS, create_metric_alarm, empty_form, failed_form
from rexwatch.web.alarm_form import STATISTICS as FORM_STATISTICS
from rexwatch.web.common import (
    RELATIVE,
    TimeRange,
    call,
    check_csrf,
    csrf_token,
    error_parts,
    set_csrf_cookie,
    time_range,
    url,
)
from rexwatch.web.downsample import chart_width, to_width

# With auth on, the gate (api/guard.py) lets only keys through unless `public` names ui.
router = APIRouter(include_in_schema=False)

STATISTICS = FORM_STATISTICS
PERIODS = (60, 300, 900, 3600, 21600, 86400)
MAX_SERIES = 10
# A graph is drawn about this many pixels wide; the automatic period keeps the points per series
# near it, so the server hands the browser no more points than it can show.
TARGET_POINTS = 600
LIST_PAGES = 10  # ListMetrics pages (500 series each) read to build one picker column
DIMS_SHOWN = 200


def explorer_url(namespace: str, metric_name: str, dimensions: Sequence[tuple[str, str]] = (),
                 stat: str | None = None, period: int | None = None, **time: str) -> str:
    """The explorer's address for one metric: ``/metrics/explorer?m=[ns, name, [[k, v], …]]&stat=…``.

    ``time`` is the range as the page takes it (``since=3h`` or ``start=…, end=…``)."""
    m = json.dumps([namespace, metric_name, [[k, v] for k, v in dimensions]], separators=(",", ":"))
    return url("/metrics/explorer", m=m, stat=stat, period=period, **time)


def _parse_series(raw: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    try:
        v = json.loads(raw)
        ns, name, dims = v
        if not (isinstance(ns, str) and isinstance(name, str) and isinstance(dims, list)):
            raise ValueError
        pairs = tuple((str(k), str(val)) for k, val in dims)
    except (ValueError, TypeError):
        raise Invalid(f"series {raw[:80]!r} is not [namespace, metric, [[name, value], …]]", field="m")
    return ns, name, pairs


def auto_period(tr: TimeRange) -> int:
    span_s = max(1, (tr.end_ms - tr.start_ms) // 1000)
    for p in PERIODS:
        if span_s / p <= TARGET_POINTS:
            return p
    return PERIODS[-1]


def _distinct(svc: MetricsService, namespace: str | None, metric: str | None) -> list[Any]:
    out, token = [], None
    for _ in range(LIST_PAGES):
        page, token = svc.list_metrics(namespace, metric, next_token=token)
        out += page
        if not token:
            break
    return out


def _picker(svc: MetricsService, ns: str, metric: str, find: str) -> dict[str, Any]:
    """The picker's three columns: namespaces, the metrics of ``ns``, the dimension sets of ``metric``."""
    needle = find.lower()
    everything = _distinct(svc, None, None)
    namespaces = sorted({m.namespace for m in everything})
    metrics: dict[str, int] = {}
    if ns:
        for m in (x for x in everything if x.namespace == ns):
            metrics[m.metric_name] = metrics.get(m.metric_name, 0) + 1
    names = sorted(n for n in metrics if needle in n.lower() or not needle)
    dimsets: list[tuple[tuple[str, str], ...]] = []
    if ns and metric:
        dimsets = sorted({m.dimensions for m in _distinct(svc, ns, metric)})
        if needle:
            dimsets = [d for d in dimsets if any(needle in f"{k}={v}".lower() for k, v in d)] or dimsets
    return {"namespaces": namespaces, "metric_names": [(n, metrics[n]) for n in names],
            "dimsets": dimsets[:DIMS_SHOWN], "dimsets_more": max(0, len(dimsets) - DIMS_SHOWN)}


def graph_data(metrics: MetricsService, alarms: AlarmsService | None,
               series: Sequence[tuple[str, str, tuple[tuple[str, str], ...]]], stat: str, period: int,
               start_ms: int, end_ms: int, expression: str = "", only_expression: bool = False) -> dict[str, Any]:
    """uPlot's data for the series (ids m1…), the expression (id e1) and the thresholds of the alarms on
    each graphed metric: ``{"x": [seconds], "series": [{"label", "values"}], "thresholds": [...]}``."""
    queries = [MetricDataQuery(id=f"m{i}", metric_stat=MetricStatSpec(MetricId(ns, name, dims), period, stat),
                               return_data=not (expression and only_expression))
               for i, (ns, name, dims) in enumerate(series, 1)]
    if expression:
        queries.append(MetricDataQuery(id="e1", expression=expression, label=expression))
    out = query_series(metrics, queries, start_ms, end_ms, expression_ids=("e1",))
    thresholds = []
    if alarms is not None:
        for i, (ns, name, dims) in enumerate(series, 1):
            try:
                found = alarms.describe_alarms_for_metric(namespace=ns, metric_name=name, dimensions=None)
            except RexwatchError:
                continue
            for a in found:
                if a.config.get("threshold") is None or tuple((d.name, d.value) for d in a.dimensions) != dims:
                    continue
                thresholds.append({"label": f"{a.name} threshold", "value": a.config["threshold"],
                                   "alarm": a.name, "series": f"m{i}"})
    out["thresholds"] = thresholds
    return out


def query_series(metrics: MetricsService, queries: Sequence[MetricDataQuery], start_ms: int, end_ms: int,
                 expression_ids: Sequence[str] = ()) -> dict[str, Any]:
    """GetMetricData's results on one shared time axis (uPlot's shape): ``{"x", "series"}``."""
    start = dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC)
    end = dt.datetime.fromtimestamp(end_ms / 1000, dt.UTC)
    page = metrics.get_metric_data(queries, start, end, scan_by="TimestampAscending", max_datapoints=100_800)
    xs = sorted({int(t.timestamp()) for r in page.results for t in r.timestamps})
    at = {x: i for i, x in enumerate(xs)}
    out_series = []
    for r in page.results:
        values: list[float | None] = [None] * len(xs)
        for t, v in zip(r.timestamps, r.values, strict=True):
            values[at[int(t.timestamp())]] = v
        label = r.label if r.id in expression_ids else f"{r.id}: {r.label}"
        out_series.append({"id": r.id, "label": label, "values": values, "points": len(r.values),
                           "last": r.values[-1] if r.values else None})
    return {"x": xs, "series": out_series}


def chart_json(data: dict[str, Any]) -> str:
    """The chart's JSON for a ``<script type="application/json">`` block: threshold lines become
    dashed constant series. ``</`` is escaped so no value can end the block."""
    series = [{"label": s["label"], "values": s["values"]} for s in data["series"]]
    for t in data.get("thresholds", []):
        series.append({"label": t["label"], "values": [t["value"]] * len(data["x"]), "dash": [6, 4],
                       "color": "#ff7b72"})
    out = {"x": data["x"], "series": series, "bands": data.get("bands", [])}
    return json.dumps(out).replace("</", "<\\/")


@router.get("/metrics/explorer", response_class=HTMLResponse)
async def metrics_page(request: Request, ns: str = "", metric: str = "", find: str = "",
                       m: list[str] | None = Query(None), stat: str = "Average", period: str = "",
                       expr: str = "", only: str = "") -> HTMLResponse:
    return await _explorer(request, ns, metric, find, m, stat, period, expr, only)


async def _explorer(request: Request, ns: str = "", metric: str = "", find: str = "", m: list[str] | None = None,
                    stat: str = "Average", period: str = "", expr: str = "", only: str = "",
                    alarm_form: dict[str, Any] | None = None) -> HTMLResponse:
    runtime = request.app.state.runtime
    svc = runtime.service(MetricsService)
    tr, range_error = time_range(request, default="3h")
    stat = stat.strip()[:16] or "Average"
    expr = expr.strip()[:1024]
    ctx: dict[str, Any] = {"ns": ns, "metric": metric, "find": find, "stat": stat, "period": period, "expr": expr,
                           "only": only, "tr": tr, "relative": RELATIVE, "range_error": range_error,
                           "statistics": STATISTICS, "periods": PERIODS, "url": url, "error": None,
                           "expr_error": None, "chart": None, "series": [], "raw_series": [], "max_series": MAX_SERIES}
    try:
        ctx.update(await call(_picker, svc, ns, metric, find.strip()[:256]))
    except RexwatchError as e:
        ctx["error"] = e.message
        ctx.update({"namespaces": [], "metric_names": [], "dimsets": [], "dimsets_more": 0})
    raw = [x for x in (m or []) if x][:MAX_SERIES]
    try:
        series = [_parse_series(x) for x in raw]
        if period and not period.isdigit():
            raise Invalid(f"period {period[:20]!r} is not a number of seconds", field="period")
        p = int(period) if period else auto_period(tr)
        ctx["period_used"] = p
        ctx["series"] = series
        ctx["raw_series"] = raw
        if series or expr:
            percentile_level(stat)  # the statistic's own message, not GetMetricData's parameter path
            data = await call(graph_data, svc, runtime.service(AlarmsService), series, stat, p, tr.start_ms,
                              tr.end_ms, expr, bool(only))
            ctx["chart"] = to_width(data, chart_width(request))
            ctx["chart_json"] = chart_json(data)
    except RexwatchError as e:
        inner = e.__cause__
        if expr and isinstance(inner, QueryError) and getattr(inner, "start", None) is not None:
            ctx["expr_error"] = error_parts(inner, expr)
        else:
            ctx["error"] = e.message
    # Links that keep the rest of the view: adding or removing one series, and the page without picker state.
    keep = {"stat": stat, "period": period, "expr": expr, "only": only, **tr.params()}
    ctx["keep"] = keep
    ctx["add_url"] = lambda dims: url("/metrics/explorer", ns=ns, metric=metric, find=find, m=[*raw, json.dumps(
        [ns, metric, [list(d) for d in dims]], separators=(",", ":"))][-MAX_SERIES:], **keep)
    ctx["remove_url"] = lambda i: url("/metrics/explorer", ns=ns, metric=metric, find=find,
                                      m=[x for j, x in enumerate(raw) if j != i], **keep)
    ctx["pick_url"] = lambda **kw: url("/metrics/explorer", **{"ns": ns, "metric": metric, "find": find, "m": raw,
                                                      **keep, **kw})
    ctx["operators"] = OPERATORS
    ctx["form_statistics"] = FORM_STATISTICS
    ctx["missing_choices"] = MISSING
    ctx["csrf"] = csrf_token(request)
    ctx["this_view"] = str(request.url.path) + ("?" + request.url.query if request.url.query else "")
    ctx["alarm_form"] = alarm_form or empty_form("metric", stat=stat, period=str(ctx.get("period_used") or ""))
    status = 400 if ctx["error"] or ctx["expr_error"] or alarm_form else 200
    return set_csrf_cookie(request, templates.TemplateResponse(request, "metrics.html", ctx, status_code=status))


@router.post("/metrics/explorer/create-alarm", response_model=None)
async def create_alarm(request: Request) -> HTMLResponse | RedirectResponse:
    """"Create alarm from this graph": the alarms page's form with the graph's series fixed. A refusal
    shows the graph again (the view is in ``back``) with the form as typed and the message beside
    its field."""
    fields = await check_csrf(request)
    back = fields.get("back", "")
    if not back.startswith("/metrics/explorer?"):  # only ever the explorer's own view
        back = "/metrics/explorer?"
    try:
        name = await call(create_metric_alarm, request.app.state.runtime.service(AlarmsService), fields)
    except RexwatchError as e:
        view = Request({**request.scope, "method": "GET", "path": "/metrics/explorer", "raw_path": b"/metrics/explorer",
                        "query_string": back.split("?", 1)[1].encode("latin-1", "replace")})
        q = view.query_params
        return await _explorer(view, q.get("ns", ""), q.get("metric", ""), q.get("find", ""), q.getlist("m"),
                               q.get("stat", "Average"), q.get("period", ""), q.get("expr", ""), q.get("only", ""),
                               alarm_form=failed_form("metric", fields, e))
    return RedirectResponse(url(f"/alarms/{quote(name, safe='')}", done=f"Alarm {name} created."), status_code=303)

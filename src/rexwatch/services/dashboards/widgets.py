"""Reading a dashboard body for rendering: where each widget goes on the 24-column grid, a metric
widget as GetMetricData queries (with the same statistics and math as GetMetricData itself), a log
widget's Insights query, an alarm widget's alarms. The console and GetMetricWidgetImage share it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

from rexwatch.errors import Invalid
from rexwatch.services.dashboards.body import GRID_COLUMNS, MAX_WIDGETS, expand_metrics
from rexwatch.services.metrics.model import MetricDataQuery, MetricId, MetricStatSpec

# CloudWatch's default widget size.
DEFAULT_WIDTH = 6
DEFAULT_HEIGHT = 6
# periodOverride "auto": the period grows so a series has at most this many points on screen.
MAX_POINTS_ON_SCREEN = 1440
# Views that show one value per series over the whole range when setPeriodToTimeRange is on.
WHOLE_RANGE_VIEWS = ("singleValue", "bar", "pie", "gauge")
# CloudWatch's default palette, in the order it gives series their colours.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
MAX_QUERIES = 100
_SOURCE = re.compile(r"^\s*SOURCE\s+(?:'([^']*)'|\"([^\"]*)\")\s*\|", re.IGNORECASE)
_ALARM_ARN = re.compile(r"^arn:aws:cloudwatch:[^:]*:[^:]*:alarm:(.+)$")


@dataclass(frozen=True)
class Placed:
    index: int
    widget: dict[str, Any]
    x: int
    y: int
    width: int
    height: int


def _int(v: Any, default: int, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        return default
    return max(lo, min(hi, v))


def layout(widgets: list[Any]) -> list[Placed]:
    """Every widget with its place: widgets with x and y stay there (moved left to fit 24 columns);
    the others fill the grid in their order, left to right and then down, as CloudWatch places them."""
    widgets = [w for w in widgets[:MAX_WIDGETS] if isinstance(w, dict)] if isinstance(widgets, list) else []
    rects: list[tuple[int, int, int, int]] = []
    out: list[Placed | None] = [None] * len(widgets)

    for i, w in enumerate(widgets):
        width = _int(w.get("width"), DEFAULT_WIDTH, 1, GRID_COLUMNS)
        height = _int(w.get("height"), DEFAULT_HEIGHT, 1, 1000)
        if isinstance(w.get("x"), int) and isinstance(w.get("y"), int):
            x = min(_int(w["x"], 0, 0, GRID_COLUMNS - 1), GRID_COLUMNS - width)
            y = _int(w["y"], 0, 0, 10**6)
            rects.append((x, y, width, height))
            out[i] = Placed(i, w, x, y, width, height)

    def free(x: int, y: int, width: int, height: int) -> bool:
        return all(x >= rx + rw or rx >= x + width or y >= ry + rh or ry >= y + height for rx, ry, rw, rh in rects)

    cx, cy = 0, 0
    for i, w in enumerate(widgets):
        if out[i] is not None:
            continue
        width = _int(w.get("width"), DEFAULT_WIDTH, 1, GRID_COLUMNS)
        height = _int(w.get("height"), DEFAULT_HEIGHT, 1, 1000)
        # Candidate corners: the cursor, and the edges of what is already placed (a free spot always
        # starts at one of them), tried in reading order from the cursor on.
        ys = sorted({cy, *(ry + rh for _, ry, _, rh in rects if ry + rh > cy), *(ry for _, ry, _, _ in rects if ry > cy)})
        spot = None
        for y in ys:
            xs = sorted({0, *(rx + rw for rx, _, rw, _ in rects)} | ({cx} if y == cy else set()))
            for x in xs:
                if (y == cy and x < cx) or x + width > GRID_COLUMNS:
                    continue
                if free(x, y, width, height):
                    spot = (x, y)
                    break
            if spot:
                break
        if spot is None:  # below everything
            spot = (0, max((ry + rh for _, ry, _, rh in rects), default=0))
        x, y = spot
        rects.append((x, y, width, height))
        out[i] = Placed(i, w, x, y, width, height)
        cx, cy = x + width, y
    return [p for p in out if p is not None]


@dataclass
class SeriesStyle:
    id: str
    label: str | None
    color: str | None
    y_axis: str
    visible: bool


@dataclass
class MetricPlan:
    queries: list[MetricDataQuery]
    styles: dict[str, SeriesStyle]
    period: int
    view: str
    stat: str
    notes: list[str] = field(default_factory=list)


def period_for(props: dict[str, Any], start_s: int, end_s: int, period_override: str = "auto") -> int:
    """The widget's period for this range: its own (300 by default); the whole range for a
    single-value view with setPeriodToTimeRange; longer with periodOverride auto when the range
    would otherwise hold more points than a widget can show."""
    period = props.get("period") if isinstance(props.get("period"), int) and props["period"] > 0 else 300
    span = max(1, end_s - start_s)
    if props.get("setPeriodToTimeRange") and props.get("view", "timeSeries") in WHOLE_RANGE_VIEWS:
        return max(60, math.ceil(span / 60) * 60)
    if period_override != "inherit" and span / period > MAX_POINTS_ON_SCREEN:
        period = math.ceil(span / MAX_POINTS_ON_SCREEN / 60) * 60
    return period


def metric_plan(props: dict[str, Any], start_s: int, end_s: int, period_override: str = "auto") -> MetricPlan:
    """GetMetricData queries for a metric widget's ``metrics`` rows, with each row's display options."""
    if not isinstance(props, dict):
        raise Invalid("the widget has no properties object")
    view = props.get("view") if props.get("view") in ("timeSeries", "singleValue", "gauge", "bar", "pie",
                                                         "table") else "timeSeries"
    stat = props.get("stat") if isinstance(props.get("stat"), str) else "Average"
    period = period_for(props, start_s, end_s, period_override)
    rows = props.get("metrics") if isinstance(props.get("metrics"), list) else []
    if len(rows) > MAX_QUERIES:
        raise Invalid(f"a widget can hold at most {MAX_QUERIES} metrics")
    if not all(isinstance(r, list) and r for r in rows):
        raise Invalid("every metrics row must be a non-empty array")
    expanded = expand_metrics(rows)
    taken = {o["id"] for _, o in expanded if isinstance(o.get("id"), str)}
    queries: list[MetricDataQuery] = []
    styles: dict[str, SeriesStyle] = {}
    notes: list[str] = []
    n_metric = n_expr = 0
    for names, opts in expanded:
        is_expr = "expression" in opts
        qid = opts.get("id") if isinstance(opts.get("id"), str) else None
        if qid is None:
            # Rows without an id get m1, m2, … and e1, e2, … in order, as CloudWatch's console does,
            # so an expression can name them.
            while True:
                if is_expr:
                    n_expr += 1
                    qid = f"e{n_expr}"
                else:
                    n_metric += 1
                    qid = f"m{n_metric}"
                if qid not in taken:
                    break
            taken.add(qid)
        label = opts.get("label") if isinstance(opts.get("label"), str) else None
        visible = opts.get("visible", True) is not False
        row_period = opts.get("period") if isinstance(opts.get("period"), int) and opts["period"] > 0 else period
        if is_expr:
            queries.append(MetricDataQuery(id=qid, expression=str(opts["expression"]), label=label or None,
                                           return_data=visible, period=row_period))
        else:
            if len(names) < 2:
                raise Invalid(f"metric row {qid} needs a namespace and a metric name")
            dims = tuple((names[j], names[j + 1]) for j in range(2, len(names) - 1, 2))
            row_stat = opts.get("stat") if isinstance(opts.get("stat"), str) else stat
            queries.append(MetricDataQuery(
                id=qid, metric_stat=MetricStatSpec(MetricId(names[0], names[1], dims), row_period, row_stat),
                label=label or None, return_data=visible))
        styles[qid] = SeriesStyle(qid, label, opts.get("color") if isinstance(opts.get("color"), str) else None,
                                  "right" if opts.get("yAxis") == "right" else "left", visible)
    if props.get("region") and not isinstance(props.get("region"), str):
        notes.append("region is not a string and is ignored")
    return MetricPlan(queries, styles, period, view, stat, notes)


def metric_data(runtime: Any, props: dict[str, Any], start: dt.datetime, end: dt.datetime,
                period_override: str = "auto") -> dict[str, Any]:
    """A metric widget's series for a range: what the console draws and the image renderer paints.

    ``series`` holds one entry per result (a SEARCH gives several), each with its timestamps
    (epoch seconds, ascending), values, label, colour and axis; ``annotations`` and ``yAxis`` are
    the widget's own.
    """
    from rexwatch.services.metrics import MetricsService

    start_s, end_s = int(start.timestamp()), int(end.timestamp())
    plan = metric_plan(props, start_s, end_s, period_override)
    annotations = props.get("annotations") if isinstance(props.get("annotations"), dict) else {}
    horizontal = [a for a in (annotations.get("horizontal") or []) if isinstance(a, dict)]
    alarm_arns = [a for a in (annotations.get("alarms") or []) if isinstance(a, str)]
    if alarm_arns:
        extra_q, extra_h = _alarm_annotation_queries(runtime, alarm_arns, plan.period)
        if not plan.queries:
            plan.queries += extra_q
            for q in extra_q:
                plan.styles[q.id] = SeriesStyle(q.id, q.label, None, "left", True)
        horizontal += extra_h
    series: list[dict[str, Any]] = []
    messages: list[str] = list(plan.notes)
    if plan.queries:
        page = runtime.service(MetricsService).get_metric_data(plan.queries, start, end,
                                                               scan_by="TimestampAscending")
        if page.next_token:
            messages.append("more datapoints than a widget shows: the range is cut short")
        colour = 0
        for r in page.results:
            st = plan.styles.get(r.id)
            c = st.color if st and st.color else None
            if c is None:
                c = PALETTE[colour % len(PALETTE)]
                colour += 1
            series.append({"id": r.id, "label": r.label, "color": c, "yAxis": st.y_axis if st else "left",
                           "timestamps": [int(t.timestamp()) for t in r.timestamps],
                           "values": [float(v) for v in r.values]})
            messages += [m.get("Value", "") for m in r.messages if isinstance(m, dict)]
    y_axis = props.get("yAxis") if isinstance(props.get("yAxis"), dict) else {}
    return {
        "view": plan.view, "stacked": props.get("stacked") is True, "period": plan.period,
        "start": start_s, "end": end_s, "series": series,
        "annotations": {"horizontal": horizontal,
                        "vertical": [a for a in (annotations.get("vertical") or []) if isinstance(a, dict)]},
        "yAxis": y_axis, "messages": messages,
        "legend": (props.get("legend") or {}).get("position", "bottom") if isinstance(props.get("legend"),
                                                                                      dict) else "bottom",
    }


def alarm_names(arns: list[Any]) -> list[str]:
    """Alarm names from alarm ARNs (anything else is skipped: the validator already refused it)."""
    out = []
    for a in arns:
        m = _ALARM_ARN.match(a) if isinstance(a, str) else None
        if m:
            out.append(m.group(1))
    return out


def _alarm_annotation_queries(runtime: Any, arns: list[str], period: int
                              ) -> tuple[list[MetricDataQuery], list[dict[str, Any]]]:
    """An alarm annotation draws the alarm's metric and its threshold."""
    from rexwatch.services.alarms import AlarmsService

    names = alarm_names(arns)[:10]
    if not names:
        return [], []
    alarms, _ = runtime.service(AlarmsService).describe_alarms(names=names)
    queries, lines = [], []
    for i, a in enumerate(alarms, 1):
        if a.kind != "metric" or not a.namespace or not a.metric_name:
            continue
        stat = a.config.get("statistic") or a.config.get("extended_statistic") or "Average"
        dims = tuple((d.name, d.value) for d in a.dimensions)
        queries.append(MetricDataQuery(id=f"alarm{i}", metric_stat=MetricStatSpec(
            MetricId(a.namespace, a.metric_name, dims), int(a.config.get("period") or period), stat),
            label=a.metric_name))
        if isinstance(a.config.get("threshold"), int | float):
            lines.append({"label": a.name, "value": a.config["threshold"], "color": "#d62728"})
    return queries, lines


def split_log_query(query: str) -> tuple[list[str], str]:
    """A log widget's query as (log groups from its leading ``SOURCE '…' |`` clauses, the rest)."""
    groups = []
    rest = query
    while True:
        m = _SOURCE.match(rest)
        if not m:
            break
        groups.append(m.group(1) if m.group(1) is not None else m.group(2))
        rest = rest[m.end():]
    return groups, rest.strip()

"""A graph of an alarm's metric around its transition, for alarm notifications (email inlines it).

Drawn by the GetMetricWidgetImage renderer from the alarm message's ``Trigger``: the metric at the
alarm's statistic and period over the three hours before the transition (and up to 30 minutes
after it), the threshold as a red line and the transition as a vertical marker. Metric-math alarms
get no graph yet. A topic tagged ``rexwatch:alarm-graph=off`` sends its alarms without one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from rexwatch.errors import RexwatchError

log = logging.getLogger("rexwatch.notify")

GRAPH_TAG = "rexwatch:alarm-graph"
BEFORE = dt.timedelta(hours=3)
AFTER = dt.timedelta(minutes=30)
_STATS = {"average": "Average", "sum": "Sum", "minimum": "Minimum", "maximum": "Maximum",
          "samplecount": "SampleCount"}


def graph_widget(alarm: dict[str, Any], now: dt.datetime) -> dict[str, Any] | None:
    """The MetricWidget for an alarm notification's message, or None when it cannot have one."""
    t = alarm.get("Trigger")
    if not isinstance(t, dict) or not t.get("MetricName") or not t.get("Namespace"):
        return None
    stat = t.get("ExtendedStatistic") if t.get("StatisticType") == "ExtendedStatistic" else \
        _STATS.get(str(t.get("Statistic", "")).lower())
    if not stat:
        return None
    try:
        when = dt.datetime.fromisoformat(str(alarm.get("StateChangeTime")).replace("Z", "+00:00"))
    except ValueError:
        when = now
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    end = min(now, when + AFTER)
    row: list[Any] = [t["Namespace"], t["MetricName"]]
    for d in t.get("Dimensions") or []:
        row += [str(d.get("name")), str(d.get("value"))]
    row.append({"stat": stat, "label": t["MetricName"], "color": "#1f77b4"})
    period = t.get("Period") if isinstance(t.get("Period"), int) and t["Period"] > 0 else 300
    widget: dict[str, Any] = {
        "title": f"{t['MetricName']} ({stat}, {period}s)", "metrics": [row], "period": period,
        "start": (when - BEFORE).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": max(end, when + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "width": 600, "height": 260, "legend": {"position": "hidden"},
        "annotations": {"vertical": [{"value": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "label": "transition"}]},
    }
    if isinstance(t.get("Threshold"), int | float):
        widget["annotations"]["horizontal"] = [{"value": t["Threshold"], "label": "threshold",
                                                "color": "#d62728"}]
    return widget


def alarm_graph_png(runtime: Any, topic_arn: str, message: str) -> bytes | None:
    """PNG of the alarm's metric for a notification, or None (not an alarm, switched off, no data)."""
    try:
        alarm = json.loads(message)
    except ValueError:
        return None
    if not isinstance(alarm, dict):
        return None
    try:
        from rexwatch.services.notify import NotifyService

        tags = runtime.service(NotifyService).topic_tags(topic_arn)
        if str(tags.get(GRAPH_TAG, "")).lower() in ("off", "false", "0", "no"):
            return None
    except RexwatchError:
        pass  # the topic is gone: still draw the graph for the delivery already queued
    widget = graph_widget(alarm, dt.datetime.now(dt.UTC))
    if widget is None:
        return None
    from rexwatch.services.dashboards.render import render_widget

    try:
        png, _ = render_widget(runtime, json.dumps(widget), "png")
    except RexwatchError as e:
        log.warning("alarm graph not drawn", extra={"topic_arn": topic_arn, "reason": e.message})
        return None
    return png

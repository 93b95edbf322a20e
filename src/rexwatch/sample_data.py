"""A small, realistic data set for the console: what its screenshots show and what its
accessibility test walks. Everything goes in through the services, as the doors would put it.

``seed(runtime)`` returns the names of what it made, so a caller can build the pages' addresses.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from dataclasses import dataclass
from typing import Any

API_GROUP = "/aws/ecs/utm-api"
WORKER_GROUP = "/aws/ecs/utm-worker"
ALARM = "utm-api-errors"
TOPIC = "utm-alerts"
DASHBOARD = "utm-overview"
STATUS_PAGE = "utm"
TARGET_GROUP = "utm-api"


@dataclass(frozen=True)
class Sample:
    api_group: str
    worker_group: str
    alarm: str
    topic_arn: str
    dashboard: str
    monitor_id: int
    status_page: str
    query_id: str | None = None


def _logs(runtime: Any, now_ms: int, rng: random.Random) -> None:
    from rexwatch.services.logs import LogsService
    from rexwatch.services.logs.model import LogEventBatch

    svc = runtime.service(LogsService)
    for group in (API_GROUP, WORKER_GROUP, "/aws/rds/utm-db"):
        svc.create_log_group(group)
    svc.put_retention_policy("/aws/rds/utm-db", 30)
    svc.put_index_policy(API_GROUP, json.dumps({"Fields": ["path", "status"]}))
    paths = ["/api/tenants", "/api/users", "/api/login", "/api/reports"]
    for stream in ("web-1", "web-2"):
        svc.create_log_stream(API_GROUP, stream)
        batch = []
        for i in range(300):
            t = now_ms - 3 * 3_600_000 + i * 36_000 + rng.randrange(1000)
            path = rng.choice(paths)
            status = 500 if rng.random() < 0.04 else 200
            if path == "/api/login" and rng.random() < 0.3:
                batch.append((t, json.dumps({"action": "login", "success": False, "user_id": f"u{rng.randrange(5)}",
                                             "ip_address": f"10.0.0.{rng.randrange(9)}"})))
            elif status == 500:
                batch.append((t, f"ERROR {path} failed: upstream timeout after 3000 ms"))
            else:
                batch.append((t, json.dumps({"level": "info", "method": "GET", "path": path, "status": status,
                                             "duration": int(rng.lognormvariate(5.5, 0.8))})))
        svc.put_log_events(API_GROUP, stream, LogEventBatch.of(sorted(batch)))
    svc.create_log_stream(WORKER_GROUP, "jobs")
    svc.put_log_events(WORKER_GROUP, "jobs", LogEventBatch.of(
        [(now_ms - 3_600_000 + i * 60_000, f"job {i} done in {rng.randrange(20, 900)} ms") for i in range(60)]))


def _metrics(runtime: Any, now: dt.datetime, rng: random.Random) -> None:
    from rexwatch.services.metrics import MetricsService
    from rexwatch.services.metrics.model import MetricDatum

    svc = runtime.service(MetricsService)
    dims = [("Service", "api")]
    data = []
    for i in range(180):
        t = now - dt.timedelta(minutes=180 - i)
        requests = 900 + 300 * abs(((i % 60) - 30) / 30) + rng.randrange(50)
        errors = rng.randrange(0, 12) + (40 if 120 <= i < 135 else 0)
        data += [MetricDatum("Requests", dims, t, float(requests), unit="Count"),
                 MetricDatum("Errors", dims, t, float(errors), unit="Count"),
                 MetricDatum("Latency", dims, t, values=[rng.lognormvariate(5, 0.5) for _ in range(5)],
                             unit="Milliseconds")]
    for i in range(0, len(data), 300):
        svc.put_metric_data("UTM/Api", data[i:i + 300])
    svc.flush()


def seed(runtime: Any, *, seed_value: int = 7) -> Sample:
    """Fill a fresh runtime with a few hours of logs and metrics, an alarm, a topic, a dashboard,
    a monitor with a status page, and a saved query."""
    from rexwatch.services.alarms import AlarmsService
    from rexwatch.services.alarms.model import Actions, AlarmDefinition, Dimension
    from rexwatch.services.dashboards import DashboardsService
    from rexwatch.services.insights.service import QueriesService
    from rexwatch.services.monitors import MonitorService, TargetGroupService
    from rexwatch.services.notify import NotifyService

    rng = random.Random(seed_value)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    now_ms = int(time.time() * 1000)
    _logs(runtime, now_ms, rng)
    _metrics(runtime, now, rng)

    notify = runtime.service(NotifyService)
    topic_arn = notify.create_topic(TOPIC)
    alarms = runtime.service(AlarmsService)
    api = (Dimension("Service", "api"),)
    alarms.put_metric_alarm(AlarmDefinition(
        name=ALARM, metric_name="Errors", namespace="UTM/Api", statistic="Sum", period=60, threshold=30,
        comparison_operator="GreaterThanThreshold", evaluation_periods=3, dimensions=api,
        description="More than 30 errors a minute for 3 minutes", actions=Actions(alarm=(topic_arn,))))
    alarms.put_metric_alarm(AlarmDefinition(
        name="utm-api-latency", metric_name="Latency", namespace="UTM/Api", extended_statistic="p99", period=300,
        threshold=1500, comparison_operator="GreaterThanThreshold", evaluation_periods=2, dimensions=api))
    alarms.set_alarm_state(ALARM, "ALARM", "Threshold Crossed: 3 datapoints were greater than the threshold (30.0)")

    dashboards = runtime.service(DashboardsService)
    metric = ["UTM/Api", "Requests", "Service", "api"]
    dashboards.put(DASHBOARD, json.dumps({"widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6,
         "properties": {"title": "Requests", "metrics": [metric], "stat": "Sum", "period": 60, "view": "timeSeries"}},
        {"type": "metric", "x": 12, "y": 0, "width": 12, "height": 6,
         "properties": {"title": "Errors", "metrics": [["UTM/Api", "Errors", "Service", "api"]], "stat": "Sum",
                        "period": 60, "view": "timeSeries"}},
        {"type": "alarm", "x": 0, "y": 6, "width": 12, "height": 3, "properties": {"title": "Alarms",
                                                                                 "alarms": [alarms.arn(ALARM)]}},
        {"type": "text", "x": 12, "y": 6, "width": 12, "height": 3,
         "properties": {"markdown": "## UTM API\nRunbook: check the errors, then the latency."}},
    ]}))

    monitors = runtime.service(MonitorService)
    mon = monitors.create({"name": "utm-api heartbeat", "type": "push", "interval": 60})
    monitors.create_page({"slug": STATUS_PAGE, "title": "UTM status", "description": "Our public services.",
                          "monitors": [mon["id"]]})

    groups = runtime.service(TargetGroupService)
    groups.create({"name": TARGET_GROUP, "port": 8080, "health_check_path": "/health", "topics": [topic_arn]})
    groups.register(TARGET_GROUP, [{"Id": "10.0.1.5"}, {"Id": "10.0.1.6"}])

    queries = runtime.service(QueriesService)
    queries.put_query_definition("errors by path", "filter @message like /ERROR/\n| stats count() by bin(15m)",
                                 group_names=[API_GROUP])
    return Sample(API_GROUP, WORKER_GROUP, ALARM, topic_arn, DASHBOARD, int(mon["id"]), STATUS_PAGE)


def pages(s: Sample) -> list[tuple[str, str]]:
    """(name, address) of every console page, filled with the sample's data."""
    from urllib.parse import quote

    q = quote("filter @message like /ERROR/\n| stats count() by bin(5m)")
    metric = quote(json.dumps(["UTM/Api", "Errors", [["Service", "api"]]]))
    metric2 = quote(json.dumps(["UTM/Api", "Requests", [["Service", "api"]]]))
    return [
        ("overview", "/"),
        ("logs", "/logs"),
        ("log-group", f"/logs/group?name={quote(s.api_group)}&since=3h"),
        ("live-tail", f"/logs/tail?group={quote(s.api_group)}"),
        ("insights", f"/insights?group={quote(s.api_group)}&since=3h&run=1&q={q}"),
        ("metrics", f"/metrics/explorer?m={metric2}&m={metric}&expr={quote('100 * m2 / m1')}&since=3h"),
        ("traces", "/traces"),
        ("alarms", "/alarms"),
        ("alarm", f"/alarms/{quote(s.alarm)}?since=3h"),
        ("dashboards", "/dashboards"),
        ("dashboard", f"/dashboards/{quote(s.dashboard)}"),
        ("monitors", "/monitors"),
        ("monitor", f"/monitors/{s.monitor_id}"),
        ("target-group", f"/monitors/target-groups/{TARGET_GROUP}"),
        ("status-pages", "/status-pages"),
        ("status-page-edit", f"/status-pages/edit?existing={s.status_page}"),
        ("status-page", f"/status/{s.status_page}"),
        ("notifications", "/notifications"),
        ("settings", "/settings"),
        ("audit", "/audit"),
        ("security", "/security"),
        ("users", "/users"),
        ("api-docs", "/api/v1/docs"),
    ]

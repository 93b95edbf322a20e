"""Dashboards in the console, in headless Chromium on a live server: the runbook's UTM-Production
dashboard drawn with live data sent through the agent endpoint, and one test per widget type."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from rexwatch.services.alarms import AlarmsService
from rexwatch.services.alarms.model import AlarmDefinition
from rexwatch.services.dashboards import DashboardsService
from rexwatch.services.logs import LogsService
from rexwatch.services.logs.model import LogEventBatch
from rexwatch.services.metrics import MetricsService

ROOT = Path(__file__).resolve().parents[1]
RUNBOOK_BODY = (ROOT / "examples" / "dashboards" / "UTM-Production.json").read_text()
HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1">'


@pytest.fixture
def page(browser):
    p = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    p.close()
    assert errors == [], errors


def agent_put(live, namespace: str, points: list[tuple[str, float, float, dict[str, str]]]) -> None:
    """Datapoints into a namespace through the agent endpoint (the only way into AWS/*)."""
    r = httpx.post(live.url + "/api/v1/agent/metrics", json={"agent": "test", "namespace": namespace, "metric_data": [
        {"metric_name": m, "value": v, "timestamp": t,
         "dimensions": [{"name": k, "value": val} for k, val in dims.items()]} for m, v, t, dims in points]})
    assert r.status_code == 200, r.text
    live.runtime.service(MetricsService).flush()


def put(live, name: str, body: dict | str) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    live.runtime.service(DashboardsService).put(name, text)


def widgets_settled(page) -> None:
    # After a click the old page may still be showing (no widgets, so none loading): wait for a widget first.
    page.locator(".widget").first.wait_for(state="attached", timeout=60_000)
    # Locator waits, not wait_for_function: the console's CSP forbids evaluating strings in the page.
    expect(page.locator(".widget[data-state=loading]")).to_have_count(0, timeout=60_000)


def widgets_ready(page, n: int) -> None:
    widgets_settled(page)
    errors = page.locator(".widget[data-state=error]")
    assert errors.count() == 0, errors.first.inner_text()
    assert page.locator(".widget[data-state=ready]").count() >= n


def test_utm_production_renders_with_live_data(page, live) -> None:
    now = time.time()
    pts_alb, pts_rds = [], []
    for k in range(6):
        t = now - 300 * (k + 1)
        pts_alb += [("RequestCount", 100.0 + k, t, {}), ("TargetResponseTime", 0.25, t, {})]
        pts_rds += [("CPUUtilization", 40.0 + k, t, {}), ("DatabaseConnections", 12.0, t, {})]
    agent_put(live, "AWS/ApplicationELB", pts_alb)
    agent_put(live, "AWS/RDS", pts_rds)
    put(live, "UTM-Production", RUNBOOK_BODY)

    page.goto(live.url + "/dashboards")
    page.get_by_role("link", name="UTM-Production").click()
    widgets_ready(page, 2)
    api, db = page.locator("section.widget[aria-label='API Metrics']"), page.locator(
        "section.widget[aria-label='Database Metrics']")
    # Two series each, every 5-minute period drawn.
    assert api.get_attribute("data-series") == "2" and int(api.get_attribute("data-points")) >= 10
    assert db.get_attribute("data-series") == "2" and int(db.get_attribute("data-points")) >= 10
    assert api.locator("canvas").count() == 1
    legend = api.locator(".u-legend").inner_text()
    assert "RequestCount" in legend and "TargetResponseTime" in legend
    # Auto-placed as CloudWatch does: 6 wide, side by side on the first row.
    boxes = [w.bounding_box() for w in (api, db)]
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2 and boxes[1]["x"] > boxes[0]["x"] + boxes[0]["width"]
    href = api.locator("a.explore").get_attribute("href")
    assert href.startswith("/metrics/explorer?") and "AWS%2FApplicationELB" in href and "RequestCount" in href
    explorer = page.context.browser.new_page()  # the explorer opens with the widget's series
    explorer.goto(live.url + href)
    assert explorer.title().startswith("Metrics")
    explorer.close()

    # The shared range: switching it reloads every widget with the new range.
    page.get_by_label("Last").select_option("15m")
    page.wait_for_url("**since=15m**")
    widgets_ready(page, 2)
    assert int(page.locator("section.widget[aria-label='API Metrics']").get_attribute("data-points")) < 10


def test_metric_views_line_stacked_number_gauge_bar_pie_math_and_search(page, live) -> None:
    now = time.time()
    pts = []
    for k in range(5):
        t = now - 60 * (k + 1)
        pts += [("CPUUtilization", 30.0, t, {"ServiceName": "utm-api"}),
                ("CPUUtilization", 10.0, t, {"ServiceName": "utm-worker"})]
    agent_put(live, "AWS/ECS", pts)
    ecs = [["AWS/ECS", "CPUUtilization", "ServiceName", "utm-api", {"id": "api", "label": "api"}],
           ["...", "utm-worker", {"id": "worker", "label": "worker"}]]
    base = {"region": "us-east-1", "period": 60, "stat": "Average"}
    body = {"start": "-PT1H", "widgets": [
        {"type": "metric", "width": 12, "properties": {**base, "title": "line", "metrics": ecs,
                                                       "annotations": {"horizontal": [{"value": 80, "label": "hot"}]}}},
        {"type": "metric", "width": 12, "properties": {**base, "title": "stacked", "stacked": True, "metrics": ecs}},
        {"type": "metric", "properties": {**base, "title": "number", "view": "singleValue", "metrics": ecs}},
        {"type": "metric", "properties": {**base, "title": "gauge", "view": "gauge", "metrics": [ecs[0]],
                                          "yAxis": {"left": {"min": 0, "max": 100}}}},
        {"type": "metric", "properties": {**base, "title": "bar", "view": "bar", "metrics": ecs}},
        {"type": "metric", "properties": {**base, "title": "pie", "view": "pie", "metrics": ecs}},
        {"type": "metric", "properties": {**base, "title": "math", "view": "singleValue", "metrics": [
            *[[*r[:-1], {**r[-1], "visible": False}] for r in ecs],
            [{"expression": "api + worker", "label": "total", "id": "total"}]]}},
        {"type": "metric", "properties": {**base, "title": "search", "view": "singleValue", "metrics": [
            [{"expression": "SEARCH('{AWS/ECS,ServiceName} MetricName=\"CPUUtilization\"', 'Average', 60)",
              "id": "s"}]]}},
    ]}
    put(live, "Views", body)
    page.goto(live.url + "/dashboards/Views")
    widgets_ready(page, 8)
    w = lambda title: page.locator(f"section.widget[aria-label='{title}']")  # noqa: E731
    assert w("line").get_attribute("data-points") == "10" and w("line").locator("canvas").count() == 1
    assert w("stacked").locator("canvas").count() == 1
    assert w("number").locator(".sv-value").all_inner_texts() == ["30", "10"]
    assert w("gauge").locator(".gauge-value").text_content() == "30"
    assert w("gauge").locator(".gauge-fill").count() == 1
    assert w("bar").locator(".bar-value").all_inner_texts() == ["30", "10"]
    assert w("pie").locator(".slice").count() == 2
    assert w("math").locator(".sv-value").all_inner_texts() == ["40"]
    assert w("math").locator(".sv-label").all_inner_texts() == ["total"]
    assert sorted(w("search").locator(".sv-label").all_inner_texts()) == ["utm-api", "utm-worker"]
    # Widgets without x/y flow left to right: line and stacked share the first row.
    a, b = w("line").bounding_box(), w("stacked").bounding_box()
    assert abs(a["y"] - b["y"]) < 2 and b["x"] > a["x"]


def test_log_widget_table_and_time_series(page, live) -> None:
    logs = live.runtime.service(LogsService)
    logs.create_log_group("/aws/ecs/utm-api")
    logs.create_log_stream("/aws/ecs/utm-api", "web-1")
    now_ms = int(time.time() * 1000)
    events = [(now_ms - 60_000 * k, json.dumps({"level": "ERROR" if k % 2 else "INFO", "path": "/api/tenants"}))
              for k in range(10, 0, -1)]
    logs.put_log_events("/aws/ecs/utm-api", "web-1", LogEventBatch.of(events))
    q = "SOURCE '/aws/ecs/utm-api' | "
    put(live, "Logs", {"widgets": [
        {"type": "log", "width": 12, "properties": {"title": "table", "region": "us-east-1", "view": "table",
                                                    "query": q + "stats count() as n by level | sort level"}},
        {"type": "log", "width": 12, "properties": {"title": "series", "region": "us-east-1", "view": "timeSeries",
                                                    "query": q + "stats count() by bin(5m)"}},
        {"type": "log", "width": 12, "properties": {"title": "bars", "region": "us-east-1", "view": "bar",
                                                    "query": q + "filter level = 'ERROR' | stats count() by bin(5m)"}},
        {"type": "log", "width": 12, "properties": {"title": "nosource", "region": "us-east-1",
                                                    "query": "fields @message"}},
    ]})
    page.goto(live.url + "/dashboards/Logs?since=1h")
    widgets_settled(page)
    table = page.locator("section.widget[aria-label='table']")
    assert table.locator("table.logs tr").all_inner_texts()[1:] == ["ERROR\t5", "INFO\t5"]
    assert page.locator("section.widget[aria-label='series'] canvas").count() == 1
    assert page.locator("section.widget[aria-label='bars'] canvas").count() == 1
    assert "/insights?" in table.locator("a.explore").get_attribute("href")
    bad = page.locator("section.widget[aria-label='nosource']")
    assert bad.get_attribute("data-state") == "error" and "SOURCE" in bad.inner_text()


def test_alarm_widget_lists_alarms_with_state(page, live) -> None:
    svc = live.runtime.service(AlarmsService)
    for name in ("utm-high-cpu", "utm-db-connections"):
        svc.put_metric_alarm(AlarmDefinition(
            name=name, metric_name="CPUUtilization", namespace="AWS/ECS", statistic="Average", period=300,
            threshold=80, comparison_operator="GreaterThanThreshold", evaluation_periods=3))
    svc.set_alarm_state("utm-high-cpu", "ALARM", "CPU above 80")
    svc.set_alarm_state("utm-db-connections", "OK", "fine")
    acct, region = live.runtime.settings.account_id, live.runtime.settings.region
    arns = [f"arn:aws:cloudwatch:{region}:{acct}:alarm:{n}" for n in ("utm-db-connections", "utm-high-cpu", "gone")]
    put(live, "Alarms", {"widgets": [{"type": "alarm", "properties": {"title": "alarms", "alarms": arns}}]})
    page.goto(live.url + "/dashboards/Alarms")
    widgets_ready(page, 1)
    rows = page.locator("table.alarm-list tr")
    # Alarms first, as CloudWatch sorts by default.
    assert [r.get_attribute("data-state") for r in rows.all()] == ["ALARM", "OK", "MISSING"]
    rows.first.get_by_role("link", name="utm-high-cpu").click()
    assert page.url.endswith("/alarms/utm-high-cpu")


def test_text_widget_markdown_is_sanitised(page, live) -> None:
    md = ("# Runbook\nSee **the wiki** and `kubectl get pods`.\n\n- one\n- two\n\n"
          "| a | b |\n|---|---|\n| 1 | 2 |\n\n"
          f"[docs](https://example.com/docs) [bad](javascript:alert(1)) {HOSTILE}\n\n<script>alert(1)</script>")
    put(live, "Text", {"widgets": [{"type": "text", "width": 24, "height": 8, "properties": {"markdown": md}}]})
    page.goto(live.url + "/dashboards/Text")
    box = page.locator("section.widget-text .markdown")
    assert box.locator("h1").inner_text() == "Runbook"
    assert box.locator("strong").inner_text() == "the wiki" and box.locator("code").inner_text() == "kubectl get pods"
    assert box.locator("li").all_inner_texts() == ["one", "two"]
    assert box.locator("td").all_inner_texts() == ["1", "2"]
    assert box.get_by_role("link", name="docs").get_attribute("href") == "https://example.com/docs"
    assert box.get_by_role("link", name="bad").count() == 0 and "javascript:alert(1)" in box.inner_text()
    assert box.locator("img, script").count() == 0 and "<img src=x" in box.inner_text()
    assert page.evaluate("document.body.dataset.pwned") is None


def test_explorer_and_custom_widgets_say_what_is_missing(page, live) -> None:
    put(live, "Others", {"widgets": [
        {"type": "explorer", "properties": {"metrics": []}},
        {"type": "custom", "properties": {"endpoint": "arn:aws:lambda:us-east-1:123456789012:function:x"}},
    ]})
    page.goto(live.url + "/dashboards/Others")
    notes = page.locator(".widget .note").all_inner_texts()
    assert "Explorer widgets" in notes[0] and "SEARCH" in notes[0]
    assert "Custom widgets" in notes[1] and "Lambda" in notes[1]


def test_a_refused_new_dashboard_name_is_explained_beside_its_box(page, live) -> None:
    page.goto(live.url + "/dashboards")
    box = page.get_by_label("New dashboard named")
    for typed, message in (("", "Give the new dashboard a name."),
                           ("../<script>x</script>", "A dashboard name is 1 to 255 letters, digits, dashes (-) "
                                                     "and underscores (_).")):
        page.evaluate("document.querySelector('main form[action=\"/dashboards-new\"]').noValidate = true")
        box.fill(typed)
        with page.expect_navigation() as nav:
            page.get_by_role("button", name="Create").click()
        assert nav.value.status == 400 and "html" in nav.value.headers["content-type"]
        assert page.locator("#new-dashboard-name-error").inner_text() == message
        assert box.get_attribute("aria-invalid") == "true" and box.input_value() == typed
    box.fill("utm-new")
    page.get_by_role("button", name="Create").click()
    assert page.url.endswith("/dashboards/utm-new/edit")


def test_missing_dashboard_and_widget_are_404(live) -> None:
    assert httpx.get(live.url + "/dashboards/nope").status_code == 404
    put(live, "One", {"widgets": [{"type": "text", "properties": {"markdown": "x"}}]})
    assert httpx.get(live.url + "/dashboards/One/widgets/5").status_code == 404
    assert httpx.get(live.url + "/dashboards/One/widgets/0").status_code == 400


def test_variables_switch_a_dimension_and_a_pattern_across_widgets(page, live) -> None:
    now = time.time()
    agent_put(live, "AWS/ECS", [(m, v, now - 60 * k, {"ServiceName": svc}) for k in range(1, 4)
                                for svc, v in (("utm-api", 30.0), ("utm-worker", 10.0))
                                for m in ("CPUUtilization", "MemoryUtilization")])
    base = {"region": "us-east-1", "period": 60, "view": "singleValue"}
    put(live, "Vars", {"variables": [
        {"type": "property", "property": "ServiceName", "inputType": "select", "id": "svc", "label": "Service",
         "search": "{AWS/ECS,ServiceName} MetricName=\"CPUUtilization\"", "populateFrom": "ServiceName"},
        {"type": "pattern", "pattern": "CPUUtilization", "inputType": "radio", "id": "metric", "label": "Metric",
         "values": [{"value": "CPUUtilization"}, {"value": "MemoryUtilization", "label": "memory"}],
         "defaultValue": "CPUUtilization"},
    ], "widgets": [
        {"type": "metric", "properties": {**base, "title": "cpu of CPUUtilization", "metrics": [
            ["AWS/ECS", "CPUUtilization", "ServiceName", "utm-worker"]]}},
    ]})
    page.goto(live.url + "/dashboards/Vars")
    widgets_ready(page, 1)
    # The first value found by the search is chosen: utm-api (sorted), not the body's utm-worker.
    assert page.get_by_label("Service").input_value() == "utm-api"
    assert page.locator(".sv-value").all_inner_texts() == ["30"]
    page.get_by_label("Service").select_option("utm-worker")
    page.wait_for_url("**var.svc=utm-worker**")
    widgets_ready(page, 1)
    assert page.locator(".sv-value").all_inner_texts() == ["10"]
    page.get_by_label("Metric").select_option(label="memory")
    page.wait_for_url("**var.metric=MemoryUtilization**")
    widgets_ready(page, 1)
    assert page.locator(".widget h2").inner_text() == "cpu of MemoryUtilization"
    assert page.locator(".sv-label").all_inner_texts() == ["MemoryUtilization"]


def test_edit_the_json_in_the_browser(page, live) -> None:
    put(live, "Edit", {"widgets": [{"type": "text", "properties": {"markdown": "before"}}]})
    page.goto(live.url + "/dashboards/Edit")
    page.get_by_role("link", name="Edit JSON").click()
    box = page.get_by_label("Dashboard body (CloudWatch dashboard JSON)")
    assert json.loads(box.input_value())["widgets"][0]["properties"]["markdown"] == "before"
    box.fill('{"widgets": [{"type": "graph", "properties": {}}, {"type": "text", "width": 30, "properties": {}}]}')
    page.get_by_role("button", name="Save").click()
    alert = page.get_by_role("alert").inner_text()
    assert "/widgets/0/type" in alert and "/widgets/1/width" in alert and "markdown" in alert
    body = live.runtime.service(DashboardsService).get("Edit").body
    assert "before" in body  # nothing saved
    page.get_by_label("Dashboard body (CloudWatch dashboard JSON)").fill(
        '{"widgets": [{"type": "text", "properties": {"markdown": "after <b>x</b>"}}]}')
    page.get_by_role("button", name="Save").click()
    assert page.get_by_role("status").inner_text().startswith("Saved.")
    assert page.locator(".widget-text .markdown").inner_text() == "after <b>x</b>"
    # A new dashboard starts in the editor and exists once saved.
    page.goto(live.url + "/dashboards")
    page.get_by_label("New dashboard named").fill("Fresh")
    page.get_by_role("button", name="Create").click()
    page.get_by_role("button", name="Save").click()
    assert page.get_by_role("status").inner_text().startswith("Saved.")
    assert live.runtime.service(DashboardsService).get("Fresh").name == "Fresh"
    # A form without the CSRF token is refused.
    assert httpx.post(live.url + "/dashboards/Edit/edit", data={"body": "{}"}).status_code == 403


def test_move_and_resize_widgets_and_save_the_layout(page, live) -> None:
    put(live, "Arrange", {"widgets": [
        {"type": "text", "properties": {"markdown": "one", "title": "x"}},
        {"type": "text", "properties": {"markdown": "two"}},
    ]})
    page.goto(live.url + "/dashboards/Arrange")
    page.get_by_role("button", name="Arrange").click()
    first = page.locator(".widget").first
    for _ in range(2):
        first.get_by_role("button", name="Wider").click()
    first.get_by_role("button", name="Move down").click()
    # Drag the second widget's corner: two columns wider.
    second = page.locator(".widget").nth(1)
    grip = second.locator(".grip").bounding_box()
    col = page.locator("#dash-grid").bounding_box()["width"] / 24
    page.mouse.move(grip["x"] + 5, grip["y"] + 5)
    page.mouse.down()
    page.mouse.move(grip["x"] + 5 + 2 * col, grip["y"] + 5, steps=5)
    page.mouse.up()
    page.get_by_role("button", name="Save layout").click()
    assert page.get_by_role("status").inner_text() == "Layout saved."
    doc = json.loads(live.runtime.service(DashboardsService).get("Arrange").body)
    places = [(w["x"], w["y"], w["width"], w["height"]) for w in doc["widgets"]]
    assert places == [(0, 1, 8, 6), (6, 0, 8, 6)]
    assert doc["widgets"][0]["properties"]["markdown"] == "one"
    # Without the CSRF token nothing is saved.
    assert httpx.post(live.url + "/dashboards/Arrange/layout", data={"layout": "[]"}).status_code == 403

"""The metrics explorer in headless Chromium against a live server holding real datapoints: the
namespace → metric → dimensions picker, the graph's points, several series, metric math (the
runbook's error rate) with errors at their position, alarm thresholds, linkable URLs, hostile names."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from rexwatch.services.alarms import AlarmsService
from rexwatch.services.alarms.model import AlarmDefinition, Dimension
from rexwatch.services.metrics import MetricsService
from rexwatch.services.metrics.model import MetricDatum
from rexwatch.web.metrics import explorer_url

HOSTILE = 'svc-<img src=x onerror="document.body.dataset.pwned=1">'


@pytest.fixture
def metrics(runtime) -> MetricsService:
    svc = runtime.service(MetricsService)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    data = []
    for i in range(1, 31):  # 30 one-minute periods: 100 requests, i errors
        t = now - dt.timedelta(minutes=i)
        data.append(MetricDatum("Requests", [("Service", "api")], t, 100.0, unit="Count"))
        data.append(MetricDatum("Errors", [("Service", "api")], t, float(i % 5), unit="Count"))
        data.append(MetricDatum("Requests", [("Service", HOSTILE)], t, 7.0, unit="Count"))
    svc.put_metric_data("UTM/Api", data)
    svc.flush()
    return svc


def chart_points(page) -> int:
    page.wait_for_selector("#metric-chart[data-points] .u-over")
    return int(page.get_attribute("#metric-chart", "data-points"))


def test_pick_namespace_metric_and_dimensions_then_graph(page, live, metrics):
    page.goto(live.url + "/")
    page.get_by_role("link", name="Metrics", exact=True).click()
    page.get_by_role("link", name="UTM/Api").click()
    page.get_by_role("link", name="Requests").click()
    page.get_by_role("link", name="Service=api", exact=True).click()
    assert chart_points(page) == 30
    summary = page.locator("table.series-summary").inner_text()
    assert "m1: Requests" in summary and "\t30\t" in summary and "100" in summary

    # A second series, and the error rate as metric math over both.
    page.get_by_role("link", name="Errors").click()
    page.get_by_role("link", name="Service=api", exact=True).click()
    # A waiting check: right after the click the new page may still be parsing.
    expect(page.locator("ol.series li")).to_have_count(2, timeout=60_000)
    page.get_by_label("Metric math").fill("100 * m2 / m1")
    page.get_by_label("only the expression").check()
    page.get_by_role("button", name="Graph").click()
    assert chart_points(page) == 30
    rows = page.locator("table.series-summary tr").all_inner_texts()
    assert len(rows) == 2 and rows[1].startswith("100 * m2 / m1\t30\t")
    # The view is linkable: reopening its URL draws the same thing.
    link = page.url
    q = parse_qs(urlsplit(link).query)
    assert q["expr"] == ["100 * m2 / m1"] and len(q["m"]) == 2
    page.goto("about:blank")
    page.goto(live.url + "/metrics/explorer?" + urlsplit(link).query)
    assert page.locator("table.series-summary tr").all_inner_texts() == rows


def test_statistic_period_and_time_range_are_in_the_url(page, live, metrics):
    url = explorer_url("UTM/Api", "Errors", [("Service", "api")], stat="Maximum", period=300, since="1h")
    page.goto(live.url + url)
    assert page.locator("#graph-form").get_by_label("Statistic").input_value() == "Maximum"
    assert page.locator("select[name=period]").input_value() == "300"
    assert chart_points(page) in (6, 7)  # 30 minutes in 5-minute periods, aligned to the clock
    assert page.locator("h2", has_text="Maximum over 300 s").count() == 1
    page.get_by_label("Last").select_option("15m")
    page.wait_for_url("**since=15m**")
    assert chart_points(page) in (3, 4)
    assert page.locator("#graph-form").get_by_label("Statistic").input_value() == "Maximum"


def test_expression_errors_point_at_their_position(page, live, metrics):
    base = explorer_url("UTM/Api", "Errors", [("Service", "api")])
    page.goto(live.url + base + "&expr=" + "100 * m2 / m1")
    err = page.locator("#expr-error")
    assert "m2" in err.inner_text()
    assert err.locator("mark").inner_text() == "m2"
    assert page.evaluate("document.activeElement.id") == "expr"
    assert page.evaluate("[document.activeElement.selectionStart, document.activeElement.selectionEnd]") == [6, 8]

    page.goto(live.url + base + "&expr=" + "100 * (m1")
    assert page.locator("#expr-error").count() == 1
    assert page.locator("#expr-error mark").count() == 1


def test_alarm_thresholds_are_drawn_on_the_graph(page, live, metrics, runtime):
    runtime.service(AlarmsService).put_metric_alarm(AlarmDefinition(
        name="utm-errors-high", metric_name="Errors", namespace="UTM/Api", statistic="Sum", period=60,
        threshold=3, comparison_operator="GreaterThanThreshold", evaluation_periods=1,
        dimensions=(Dimension("Service", "api"),)))
    page.goto(live.url + explorer_url("UTM/Api", "Errors", [("Service", "api")], stat="Sum"))
    assert chart_points(page) == 30
    row = page.locator("table.series-summary tr", has_text="threshold")
    assert "utm-errors-high" in row.inner_text() and row.inner_text().endswith("3.0")
    data = json.loads(page.locator("#metric-chart-data").text_content())
    assert data["series"][1]["label"] == "utm-errors-high threshold"
    assert set(data["series"][1]["values"]) == {3.0}


def test_hostile_dimension_values_render_as_text(page, live, metrics):
    page.goto(live.url + "/metrics/explorer?ns=UTM/Api&metric=Requests")
    link = page.get_by_role("link", name=f"Service={HOSTILE}")
    assert link.count() == 1
    link.click()
    assert chart_points(page) == 30
    assert HOSTILE in page.locator("ol.series").inner_text()
    assert page.locator("main img").count() == 0
    assert page.evaluate("document.body.dataset.pwned") is None


def test_bad_input_is_a_400_with_a_message(live, metrics):
    r = httpx.get(live.url + "/metrics/explorer", params={"m": "not json"}, timeout=60)
    assert r.status_code == 400 and "is not [namespace, metric" in r.text
    r = httpx.get(live.url + explorer_url("UTM/Api", "Errors", period=7), timeout=60)
    assert r.status_code == 400 and "Period" in r.text
    r = httpx.get(live.url + "/metrics/explorer", timeout=60)
    assert r.status_code == 200 and "UTM/Api" in r.text


def test_an_unknown_statistic_is_named_as_a_statistic(page, live, metrics):
    """The page names the statistic box's problem, not GetMetricData's parameter path."""
    resp = page.goto(live.url + explorer_url("UTM/Api", "Errors", [("Service", "api")], stat="<b>p-lots</b>"))
    assert resp.status == 400
    alert = page.locator("[role=alert]").inner_text()
    assert "The value <b>p-lots</b> for statistic is invalid" in alert and "p99" in alert
    assert "MetricDataQueries" not in alert and page.locator("main b").count() == 0


def test_long_series_are_drawn_at_the_chart_width_keeping_each_columns_extremes():
    from rexwatch.web.downsample import to_width

    def data():
        return {"x": list(range(10_080)),
                "series": [{"values": [float(i % 100) if i % 7 else None for i in range(10_080)]},
                           {"values": [500.0 if i == 7_777 else (None if i < 100 else 1.0) for i in range(10_080)]}]}

    out = to_width(data(), 400)
    assert out["columns"] == 400 and out["points_in"] == 10_080 and len(out["x"]) == 800  # two per column
    assert out["x"] == sorted(out["x"]) and out["x"][:2] == [0, 25]  # each column's first and last time
    first, second = (s["values"] for s in out["series"])
    assert len(first) == len(second) == 800
    assert (min(v for v in first if v is not None), max(v for v in first if v is not None)) == (0.0, 99.0)
    assert max(v for v in second if v is not None) == 500.0  # the one spike survives
    assert second[:6] == [None] * 6 and second[6] == 1.0  # columns holding only gaps stay gaps
    small = {"x": [1, 2], "series": [{"values": [1.0, None]}]}
    assert to_width(small, 400) is small and "columns" not in small


def chart_data(html: str, block: str) -> dict:
    start = html.index(f'<script type="application/json" id="{block}">') + len(f'<script type="application/json" id="{block}">')
    return json.loads(html[start:html.index("</script>", start)])


def test_a_week_of_minutes_is_drawn_at_the_width_the_page_sends(live, runtime):
    """10,080 points: the explorer and the alarm page send two points per pixel column of the width
    the page asked for (w=, else the cookie console.js sets), and the one spike above the alarm's
    threshold is among them."""
    svc = runtime.service(MetricsService)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    week = [now - dt.timedelta(minutes=i) for i in range(1, 10_081)]
    for k in range(0, len(week), 1000):
        svc.put_metric_data("UTM/Api", [MetricDatum("Latency", [("Service", "api")], t, 900.0 if k + j == 5_000
                                                    else 100.0 + (k + j) % 50) for j, t in enumerate(week[k:k + 1000])])
    svc.flush()
    runtime.service(AlarmsService).put_metric_alarm(AlarmDefinition(
        name="slow", metric_name="Latency", namespace="UTM/Api", statistic="Average", period=60, threshold=500,
        comparison_operator="GreaterThanThreshold", evaluation_periods=1, dimensions=(Dimension("Service", "api"),)))
    view = explorer_url("UTM/Api", "Latency", [("Service", "api")], period=60, since="7d")
    for width in (300, 1000):
        html = httpx.get(live.url + view + f"&w={width}", timeout=60).text
        chart = chart_data(html, "metric-chart-data")
        assert width < len(chart["x"]) <= 2 * width and 'id="thinned"' in html
        assert max(v for v in chart["series"][0]["values"] if v is not None) == 900.0
        alarm = httpx.get(live.url + f"/alarms/slow?since=7d&w={width}", timeout=60).text
        drawn = chart_data(alarm, "alarm-chart-data")
        assert width < len(drawn["x"]) <= 2 * width
        assert max(v for v in drawn["series"][0]["values"] if v is not None) == 900.0
    # The cookie the page keeps stands in for w=; nonsense falls back to the default width.
    cookie = httpx.get(live.url + view, cookies={"rexwatch_chart_w": "200"}, timeout=60).text
    assert len(chart_data(cookie, "metric-chart-data")["x"]) <= 400
    assert httpx.get(live.url + view + "&w=banana", timeout=60).status_code == 200


def test_create_an_alarm_from_the_graph(page, live, metrics, runtime):
    view = explorer_url("UTM/Api", "Errors", [("Service", "api")], stat="Sum", since="1h")
    page.goto(live.url + view)
    page.get_by_text("Create alarm from this graph").click()
    page.get_by_label("Alarm name").fill("utm-api-errors")
    page.get_by_label("When the statistic is").select_option(">=")
    page.get_by_label("Threshold").fill("4")
    page.get_by_label("Evaluation periods").fill("2")
    page.get_by_role("button", name="Create alarm").click()
    assert page.locator("[role=status]").inner_text() == "Alarm utm-api-errors created."
    a = runtime.service(AlarmsService).get("utm-api-errors")
    assert (a.namespace, a.metric_name, [(d.name, d.value) for d in a.dimensions]) == \
        ("UTM/Api", "Errors", [("Service", "api")])
    assert a.config["statistic"] == "Sum" and a.config["period"] == 60 and a.config["threshold"] == 4
    assert a.config["comparison_operator"] == "GreaterThanOrEqualToThreshold"
    assert a.config["evaluation_periods"] == 2
    page.wait_for_selector("#alarm-chart[data-points] .u-over")

    # The same name again is refused, on the graph it came from, with the form open.
    page.goto(live.url + view)
    page.get_by_text("Create alarm from this graph").click()
    page.get_by_label("Alarm name").fill("utm-api-errors")
    page.get_by_label("Threshold").fill("9")
    page.get_by_role("button", name="Create alarm").click()
    assert "exists already" in page.locator("#graph-alarm-name-error").inner_text()
    assert page.get_by_label("Threshold").input_value() == "9"
    assert "utm-api-errors threshold" in page.locator("table.series-summary").inner_text()  # the same graph
    page.get_by_label("Alarm name").fill("utm-api-errors-2")
    page.get_by_label("Threshold").fill("lots")
    page.get_by_role("button", name="Create alarm").click()
    assert page.locator("#graph-alarm-threshold-error").inner_text() == "Threshold must be a number"
    assert [x.name for x in runtime.service(AlarmsService).describe_alarms()[0]] == ["utm-api-errors"]


def test_create_alarm_never_redirects_off_the_explorer(page, live, metrics):
    page.goto(live.url + explorer_url("UTM/Api", "Errors", [("Service", "api")]))
    csrf = page.locator("input[name=csrf]").first.input_value()
    r = page.request.post(live.url + "/metrics/explorer/create-alarm", max_redirects=0, form={
        "csrf": csrf, "back": "https://evil.example/", "m": "bad", "name": "x", "threshold": "1"})
    assert r.status == 400 and "location" not in r.headers  # the explorer, shown again
    assert "<h1>Metrics</h1>" in r.text()

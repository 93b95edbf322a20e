"""Alarm actions from the console in headless Chromium: acknowledge, mute, unmute and disable
actions on a live server, each seen in the page and the alarm's history; hostile names escaped."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import expect

from rexwatch.services.alarms import AlarmsService
from rexwatch.services.alarms.model import Actions, AlarmDefinition, CompositeAlarmDefinition, Dimension, Tag

TOPIC = "arn:aws:sns:us-east-1:000000000000:utm-alerts"
HOSTILE = 'utm-<img src=x onerror="document.body.dataset.pwned=1">'


@pytest.fixture
def alarms(runtime) -> AlarmsService:
    svc = runtime.service(AlarmsService)
    for name in ("utm-high-cpu", HOSTILE):
        svc.put_metric_alarm(AlarmDefinition(
            name=name, metric_name="CPUUtilization", namespace="AWS/ECS", statistic="Average", period=300,
            threshold=80, comparison_operator="GreaterThanThreshold", evaluation_periods=3,
            description="CPU above 80% <b>for</b> 15 minutes"))
    svc.set_alarm_state("utm-high-cpu", "ALARM", "testing the page")
    return svc


def test_acknowledge_mute_unmute_and_disable_from_the_page(page, live, alarms):
    page.goto(live.url + "/alarms/utm-high-cpu")
    page.get_by_label("Who").fill("ops@utm")
    page.get_by_label("Note").fill("investigating")
    page.get_by_role("button", name="Acknowledge").click()
    assert page.locator("[role=status]").inner_text() == "Acknowledged."
    assert "ops@utm" in page.locator(".card", has_text="Acknowledged").inner_text()
    assert alarms.get("utm-high-cpu").acked_by == "ops@utm"
    assert page.get_by_role("button", name="Acknowledge").count() == 0
    assert "ops@utm" in page.locator("table", has_text="Summary").inner_text()  # the history

    page.get_by_label("Mute for").select_option(label="2 hours")
    page.get_by_label("Reason").fill("deploy")
    page.get_by_role("button", name="Mute", exact=True).click()
    assert page.locator("[role=status]").inner_text().startswith("Muted by rule adhoc-")
    rules = page.locator("table", has_text="Schedule")
    assert "deploy" in rules.inner_text() and "PT2H" in rules.inner_text()
    page.get_by_role("button", name="Unmute").first.click()
    assert page.locator("[role=status]").inner_text().endswith("removed.")
    assert page.locator("table", has_text="Schedule").count() == 0

    page.get_by_role("button", name="Disable actions").click()
    assert page.locator(".card", has_text="Actions").locator(".big").inner_text() == "disabled"
    assert alarms.get("utm-high-cpu").actions_enabled is False
    page.get_by_role("button", name="Enable actions").click()
    assert alarms.get("utm-high-cpu").actions_enabled is True


def test_acknowledging_an_alarm_not_in_alarm_is_explained(page, live, alarms):
    alarms.set_alarm_state("utm-high-cpu", "OK", "back to normal")
    page.goto(live.url + "/alarms/utm-high-cpu")
    assert page.get_by_role("button", name="Acknowledge").count() == 0  # only offered in ALARM
    page.get_by_label("Mute for").select_option(label="1 day")
    page.get_by_role("button", name="Mute", exact=True).click()
    assert page.locator("[role=status]").inner_text().startswith("Muted")


def test_actions_need_the_csrf_token(live, alarms):
    r = httpx.post(live.url + "/alarms-action", data={"name": "utm-high-cpu", "action": "disable"})
    assert r.status_code == 403
    assert alarms.get("utm-high-cpu").actions_enabled is True


def test_hostile_alarm_names_render_as_text(page, live, alarms):
    page.goto(live.url + "/alarms")
    assert page.get_by_role("link", name=HOSTILE).count() == 1
    page.get_by_role("link", name=HOSTILE).click()
    assert page.locator("h1").inner_text().startswith(HOSTILE)
    assert "<b>for</b>" in page.locator("main").inner_text()
    page.get_by_role("button", name="Mute", exact=True).click()
    assert page.locator("[role=status]").inner_text().startswith("Muted")
    assert page.url.endswith(quote(HOSTILE, safe="") + "?done=" + page.url.split("?done=")[1])
    assert page.locator("main img").count() == 0
    assert page.evaluate("document.body.dataset.pwned") is None


@pytest.fixture
def cpu_alarm(runtime, alarms) -> AlarmsService:
    """utm-high-cpu with 40 minutes of CPU datapoints: 50% for 20 minutes, then 95%."""
    import datetime as dt

    from rexwatch.services.metrics import MetricsService
    from rexwatch.services.metrics.model import MetricDatum

    metrics = runtime.service(MetricsService)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    metrics.put_metric_data("AWS/ECS", [
        MetricDatum("CPUUtilization", [], now - dt.timedelta(minutes=i), 95.0 if i <= 20 else 50.0, unit="Percent")
        for i in range(1, 41)], allow_reserved=True)
    metrics.flush()
    alarms.put_metric_alarm(AlarmDefinition(
        name="utm-high-cpu", metric_name="CPUUtilization", namespace="AWS/ECS", statistic="Average", period=60,
        threshold=80, comparison_operator="GreaterThanThreshold", evaluation_periods=3))
    return alarms


def test_graph_with_threshold_state_bands_set_state_and_backtest(page, live, cpu_alarm):
    page.goto(live.url + "/alarms/utm-high-cpu?since=3h")
    page.wait_for_selector("#alarm-chart[data-points] .u-over")
    assert page.get_attribute("#alarm-chart", "data-points") == "40"
    data = json.loads(page.locator("#alarm-chart-data").text_content())
    assert data["series"][1]["label"] == "threshold" and set(data["series"][1]["values"]) == {80}
    assert [b["state"] for b in data["bands"]] == ["INSUFFICIENT_DATA", "ALARM"]  # created, then set to ALARM

    page.get_by_label("Set state").select_option("OK")
    page.get_by_label("Why").fill("all clear")
    page.get_by_role("button", name="Set state").click()
    assert page.locator("[role=status]").inner_text() == "State set to OK."
    assert cpu_alarm.get("utm-high-cpu").state_value == "OK"
    page.goto(live.url + "/alarms/utm-high-cpu?since=3h")
    states = page.locator("table.bands tr td:nth-child(3)").all_inner_texts()
    assert states[-2:] == ["ALARM", "OK"]

    page.get_by_label("backtest over this range").check()
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("table.backtest")
    page.wait_for_load_state()  # the table's rows and the chart's data after it are parsed
    assert "backtest=1" in page.url and "since=3h" in page.url
    moves = page.locator("table.backtest tbody tr, table.backtest tr:has(td)").all_inner_texts()
    assert any("\tALARM\t" in m for m in moves), moves
    data = json.loads(page.locator("#alarm-chart-data").text_content())
    assert any(b["row"] == 1 and b["state"] == "ALARM" for b in data["bands"])
    page.get_by_role("link", name="Open in metrics explorer").click()
    page.wait_for_selector("#metric-chart[data-points] .u-over")
    assert "utm-high-cpu threshold" in page.locator("table.series-summary").inner_text()


def test_set_state_refuses_unknown_states(page, live, alarms):
    page.goto(live.url + "/alarms/utm-high-cpu")
    csrf = page.locator("input[name=csrf]").first.input_value()
    r = page.request.post(live.url + "/alarms-action", form={"csrf": csrf, "name": "utm-high-cpu",
                                                            "action": "set-state", "state": "BROKEN"})
    assert "problem=state+must+be+one+of" in r.url and "state must be one of OK, ALARM" in r.text()
    assert alarms.get("utm-high-cpu").state_value == "ALARM"


def test_a_metric_math_alarm_graphs_its_expression(page, live, runtime, cpu_alarm):
    from rexwatch.services.alarms.model import MetricQuery, MetricStat

    cpu_alarm.put_metric_alarm(AlarmDefinition(
        name="utm-cpu-doubled", evaluation_periods=1, threshold=150, comparison_operator="GreaterThanThreshold",
        metrics=(MetricQuery("c", metric_stat=MetricStat("AWS/ECS", "CPUUtilization", (), 60, "Average"),
                             return_data=False),
                 MetricQuery("doubled", expression="c * 2", label="CPU x2"))))
    page.goto(live.url + "/alarms/utm-cpu-doubled?since=3h")
    page.wait_for_selector("#alarm-chart[data-points] .u-over")
    data = json.loads(page.locator("#alarm-chart-data").text_content())
    assert [s["label"] for s in data["series"]] == ["CPU x2", "threshold"]
    assert max(v for v in data["series"][0]["values"] if v is not None) == 190.0
    assert page.get_by_role("link", name="Open in metrics explorer").count() == 0  # math has no single metric


def test_edit_an_alarm_from_its_page(page, live, alarms):
    """The create form, prefilled, with the name fixed; PutMetricAlarm's rules, beside the field."""
    alarms.put_metric_alarm(AlarmDefinition(
        name="utm-high-cpu", metric_name="CPUUtilization", namespace="AWS/ECS", statistic="Average", period=300,
        dimensions=(Dimension("ClusterName", "utm"),), threshold=80, comparison_operator="GreaterThanThreshold",
        evaluation_periods=3, unit="Percent", description="CPU above 80% <b>for</b> 15 minutes",
        actions=Actions(alarm=(TOPIC,), ok=(TOPIC,), insufficient_data=(TOPIC,)), tags=(Tag("team", "ops"),)))
    page.goto(live.url + "/alarms/utm-high-cpu")
    page.get_by_text("Edit alarm").click()
    form = page.locator("#edit-alarm")
    name = form.get_by_label("Alarm name")
    assert name.input_value() == "utm-high-cpu" and name.get_attribute("readonly") is not None
    assert [form.get_by_label(label, exact=True).input_value() for label in
            ("Namespace", "Metric", "Statistic", "Period (s)", "Threshold", "Evaluation periods")] == \
        ["AWS/ECS", "CPUUtilization", "Average", "300", "80", "3"]
    assert form.get_by_label("Dimensions").input_value() == "ClusterName=utm"
    assert form.get_by_label("Notify topics").input_value() == TOPIC
    assert form.get_by_label("Description").input_value() == "CPU above 80% <b>for</b> 15 minutes"
    form.get_by_label("Statistic", exact=True).fill("p99")
    form.get_by_label("Threshold", exact=True).fill("90")
    form.get_by_label("When the statistic is").select_option("GreaterThanOrEqualToThreshold")
    form.get_by_label("Datapoints to alarm").fill("2")
    form.get_by_label("Missing data").select_option("breaching")
    form.get_by_role("button", name="Save alarm").click()
    assert page.locator("[role=status]").inner_text() == "Saved."
    a = alarms.get("utm-high-cpu")
    assert (a.config["threshold"], a.config["comparison_operator"], a.config["extended_statistic"],
            a.config["datapoints_to_alarm"], a.config["treat_missing_data"]) == (
        90.0, "GreaterThanOrEqualToThreshold", "p99", 2, "breaching")
    assert a.metric_name == "CPUUtilization" and a.description == "CPU above 80% <b>for</b> 15 minutes"
    # What the form does not show stays: the unit, tags, INSUFFICIENT_DATA actions.
    assert (a.config["unit"], [(t.key, t.value) for t in a.tags], a.insufficient_data_actions) == \
        ("Percent", [("team", "ops")], [TOPIC])

    # PutMetricAlarm's rules apply, each beside its field with what was typed kept; nothing changes.
    page.get_by_text("Edit alarm").click()
    form.get_by_label("Datapoints to alarm").fill("9")
    form.get_by_role("button", name="Save alarm").click()
    assert page.locator("details.edit-alarm").get_attribute("open") is not None
    box = form.get_by_label("Datapoints to alarm")
    assert box.get_attribute("aria-invalid") == "true" and box.input_value() == "9"
    assert "datapoints" in page.locator("#edit-alarm-datapoints_to_alarm-error").inner_text().lower()
    assert form.get_by_label("Alarm name").input_value() == "utm-high-cpu"
    assert alarms.get("utm-high-cpu").config["datapoints_to_alarm"] == 2
    form.get_by_label("Datapoints to alarm").fill("2")
    form.get_by_label("Period (s)").fill("45")
    form.get_by_role("button", name="Save alarm").click()
    assert page.locator("#edit-alarm-period-error").inner_text() == "Period must be 10, 20, 30 or a multiple of 60"
    form.get_by_label("Period (s)").fill("300")
    form.get_by_label("Threshold", exact=True).fill("lots")
    form.get_by_role("button", name="Save alarm").click()
    assert page.locator("#edit-alarm-threshold-error").inner_text() == "Threshold must be a number"
    # The name is fixed: a form sent with another one edits that alarm, and never makes a new one.
    csrf = form.locator("input[name=csrf]").input_value()
    r = page.request.post(live.url + "/alarms-edit", form={"csrf": csrf, "name": "no-such-alarm", "threshold": "1",
                                                          "namespace": "n", "metric": "m"})
    assert r.status == 404 and "no-such-alarm" in r.text()
    assert [a.name for a in alarms.describe_alarms()[0]] == sorted([HOSTILE, "utm-high-cpu"])


def test_edit_a_composite_alarm_and_actions_the_form_cannot_show(page, live, alarms):
    alarms.put_metric_alarm(AlarmDefinition(
        name="utm-api-errors", metric_name="Errors", namespace="UTM/Api", statistic="Sum", period=60,
        threshold=5, comparison_operator="GreaterThanThreshold", evaluation_periods=1,
        actions=Actions(alarm=(TOPIC,), ok=())))
    alarms.put_composite_alarm(CompositeAlarmDefinition(
        name="utm-api-down", alarm_rule='ALARM("utm-high-cpu")', description="api down",
        actions=Actions(alarm=(TOPIC,), ok=(TOPIC,))))
    page.goto(live.url + "/alarms/utm-api-down")
    page.get_by_text("Edit alarm").click()
    form = page.locator("#edit-alarm")
    assert form.get_by_label("Rule").input_value() == 'ALARM("utm-high-cpu")'
    form.get_by_label("Rule").fill('ALARM("utm-high-cpu") AND ALARM("nope")')
    form.get_by_role("button", name="Save alarm").click()
    assert "nope" in page.locator("#edit-alarm-rule-error").inner_text()
    assert form.get_by_label("Rule").input_value() == 'ALARM("utm-high-cpu") AND ALARM("nope")'
    form.get_by_label("Rule").fill('ALARM("utm-high-cpu") OR ALARM("utm-api-errors")')
    form.get_by_label("Notify topics").fill("")
    form.get_by_role("button", name="Save alarm").click()
    assert page.locator("[role=status]").inner_text() == "Saved."
    a = alarms.get("utm-api-down")
    assert a.config["alarm_rule"] == 'ALARM("utm-high-cpu") OR ALARM("utm-api-errors")'
    assert (a.alarm_actions, a.ok_actions, a.description) == ([], [], "api down")

    # ALARM and OK actions that differ are kept as they are, and the form says so.
    page.goto(live.url + "/alarms/utm-api-errors")
    page.get_by_text("Edit alarm").click()
    assert page.locator("#edit-alarm").get_by_label("Notify topics").count() == 0
    assert "Actions stay as they are" in page.locator("#edit-alarm-actions-kept").inner_text()
    page.locator("#edit-alarm").get_by_label("Threshold").fill("7")
    page.locator("#edit-alarm").get_by_role("button", name="Save alarm").click()
    a = alarms.get("utm-api-errors")
    assert (a.config["threshold"], a.alarm_actions, a.ok_actions) == (7.0, [TOPIC], [])


def test_a_metric_math_alarm_is_not_offered_the_form(page, live, alarms):
    from rexwatch.services.alarms.model import MetricQuery, MetricStat

    alarms.put_metric_alarm(AlarmDefinition(
        name="utm-cpu-doubled", evaluation_periods=1, threshold=150, comparison_operator="GreaterThanThreshold",
        metrics=(MetricQuery("c", metric_stat=MetricStat("AWS/ECS", "CPUUtilization", (), 60, "Average"),
                             return_data=False),
                 MetricQuery("doubled", expression="c * 2", label="CPU x2"))))
    page.goto(live.url + "/alarms/utm-cpu-doubled")
    assert page.get_by_text("Edit alarm").count() == 0
    assert "put-metric-alarm" in page.locator("main").inner_text()
    csrf = page.locator("input[name=csrf]").first.input_value()
    r = page.request.post(live.url + "/alarms-edit", form={"csrf": csrf, "name": "utm-cpu-doubled", "threshold": "1"})
    assert r.status == 400 and "metric math" in r.text()
    assert alarms.get("utm-cpu-doubled").config["threshold"] == 150


def test_create_metric_and_composite_alarms_from_the_alarms_page(page, live, alarms):
    page.goto(live.url + "/alarms")
    page.get_by_text("Metric alarm", exact=True).click()
    form = page.locator("#new-alarm")
    form.get_by_label("Alarm name").fill("utm-api-latency")
    form.get_by_label("Namespace").fill("UTM/Application")
    form.get_by_label("Metric", exact=True).fill("APILatency")
    form.get_by_label("Dimensions").fill("Service=api, Stage=prod")
    form.get_by_label("Statistic", exact=True).fill("p99")
    form.get_by_label("Period (s)").fill("300")
    form.get_by_label("When the statistic is").select_option(">")
    form.get_by_label("Threshold").fill("1000")
    form.get_by_label("Evaluation periods").fill("3")
    form.get_by_label("Datapoints to alarm").fill("2")
    form.get_by_label("Missing data").select_option("notBreaching")
    form.get_by_role("button", name="Create alarm").click()
    assert page.locator("[role=status]").inner_text() == "Alarm utm-api-latency created."
    a = alarms.get("utm-api-latency")
    assert (a.namespace, a.metric_name, [(d.name, d.value) for d in a.dimensions]) == \
        ("UTM/Application", "APILatency", [("Service", "api"), ("Stage", "prod")])
    c = a.config
    assert (c["extended_statistic"], c["period"], c["threshold"], c["comparison_operator"], c["evaluation_periods"],
            c["datapoints_to_alarm"], c["treat_missing_data"]) == \
        ("p99", 300, 1000.0, "GreaterThanThreshold", 3, 2, "notBreaching")
    page.get_by_role("link", name="Alarms", exact=True).click()
    # Waiting: right after the click the new page may not have its list parsed yet.
    expect(page.get_by_role("link", name="utm-api-latency")).to_have_count(1, timeout=60_000)

    # The service's rules, each shown beside the field it names, with what was typed kept.
    page.get_by_text("Metric alarm", exact=True).click()
    form.get_by_label("Alarm name").fill("utm-bad")
    form.get_by_label("Namespace").fill("UTM/Application")
    form.get_by_label("Metric", exact=True).fill("APILatency")
    form.get_by_label("Period (s)").fill("45")
    form.get_by_label("Threshold").fill("5")
    form.get_by_role("button", name="Create alarm").click()
    period = form.get_by_label("Period (s)")
    assert period.get_attribute("aria-invalid") == "true" and period.input_value() == "45"
    assert page.locator("#new-alarm-period-error").inner_text() == "Period must be 10, 20, 30 or a multiple of 60"
    assert form.get_by_label("Alarm name").input_value() == "utm-bad"
    form.get_by_label("Period (s)").fill("60")
    form.get_by_label("Threshold").fill("lots")
    form.get_by_role("button", name="Create alarm").click()
    assert page.locator("#new-alarm-threshold-error").inner_text() == "Threshold must be a number"
    assert form.get_by_label("Period (s)").get_attribute("aria-invalid") is None
    form.get_by_label("Threshold").fill("5")
    form.get_by_label("Alarm name").fill("utm-high-cpu")
    form.get_by_role("button", name="Create alarm").click()
    assert "exists already" in page.locator("#new-alarm-name-error").inner_text()
    assert [a.name for a in alarms.describe_alarms()[0]] == sorted([HOSTILE, "utm-api-latency", "utm-high-cpu"])

    page.get_by_text("Composite alarm", exact=True).click()
    comp = page.locator("#new-composite")
    comp.get_by_label("Alarm name").fill("utm-api-down")
    comp.get_by_label("Rule").fill('ALARM("utm-high-cpu") AND ALARM("no-such-alarm")')
    comp.get_by_role("button", name="Create composite alarm").click()
    assert "no-such-alarm" in page.locator("#new-composite-rule-error").inner_text()
    comp.get_by_label("Rule").fill('ALARM("utm-high-cpu") OR ALARM("utm-api-latency")')
    comp.get_by_role("button", name="Create composite alarm").click()
    assert page.locator("[role=status]").inner_text() == "Alarm utm-api-down created."
    assert alarms.get("utm-api-down").kind == "composite"


@pytest.mark.parametrize("path", ["/alarms-create", "/alarms-edit"])
def test_create_and_edit_need_the_csrf_token(live, alarms, path):
    r = httpx.post(live.url + path, data={"name": "utm-high-cpu", "namespace": "n", "metric": "m", "threshold": "1"})
    assert r.status_code == 403
    assert alarms.get("utm-high-cpu").config["threshold"] == 80
    assert [a.name for a in alarms.describe_alarms()[0]] == sorted([HOSTILE, "utm-high-cpu"])

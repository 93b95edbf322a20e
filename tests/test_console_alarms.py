"""Alarm actions from the console in headless Chromium: acknowledge, mute, unmute and disable
actions on a live server, each seen in the page and the alarm's history; hostile names escaped."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from rexwatch.services.alarms import AlarmsService
from rexwatch.services.alarms.model import AlarmDefinition

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


@pytest.fixture
def page(browser):
    p = browser.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    p.close()
    assert errors == [], errors


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

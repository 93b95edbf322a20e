"""The console's timezone preference in headless Chromium: times show in UTC until the user
picks their own zone, which the URL and a cookie then keep, on every page that shows times."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from rexwatch.services.logs import LogsService
from rexwatch.services.logs.model import LogEventBatch

GROUP = "/aws/ecs/tz-api"
ZONE = "Asia/Kolkata"  # UTC+05:30 all year: no daylight saving to trip over
SHIFT = dt.timedelta(hours=5, minutes=30)


@pytest.fixture
def event_ms(runtime) -> int:
    svc = runtime.service(LogsService)
    svc.create_log_group(GROUP)
    svc.create_log_stream(GROUP, "s")
    t = (int(time.time()) - 1800) * 1000
    svc.put_log_events(GROUP, "s", LogEventBatch.of([(t, "hello")]))
    return t


@pytest.fixture
def page(browser):
    ctx = browser.new_context(timezone_id=ZONE)
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    ctx.close()
    assert errors == [], errors


def text(ms: int, shift: dt.timedelta = dt.timedelta(0)) -> str:
    return (dt.datetime.fromtimestamp(ms / 1000, dt.UTC) + shift).strftime("%Y-%m-%d %H:%M:%S")


def test_times_follow_the_chosen_zone_across_pages(page, live, event_ms):
    page.goto(live.url + "/logs")
    row = page.locator("tr", has_text=GROUP)
    assert text(event_ms) in row.inner_text()
    assert "Last event (UTC)" in page.locator("thead").inner_text()
    # Chart axes draw in UTC too: the epoch's midnight is 00:00 on the chart's clock.
    assert page.evaluate("[window.rexwatchTzDate(0).getHours(), window.rexwatchTzDate(0).getMinutes()]") == [0, 0]

    page.get_by_label("Times in").select_option("local")
    page.wait_for_url("**tz=local**")
    # The browser names the zone as its ICU data does (Asia/Calcutta is Asia/Kolkata's old name).
    page.wait_for_selector("html[data-tz^='Asia/']", state="attached")
    assert text(event_ms, SHIFT) in page.locator("tr", has_text=GROUP).inner_text()
    assert "Last event (IST)" in page.locator("thead").inner_text()
    # Chart axes use the same zone: midnight UTC is 05:30 on the chart's clock.
    assert page.evaluate("[window.rexwatchTzDate(0).getHours(), window.rexwatchTzDate(0).getMinutes()]") == [5, 30]

    # The choice is remembered: another page, without tz in its address.
    page.goto(live.url + "/logs/group?name=" + GROUP + "&since=1h")
    assert text(event_ms, SHIFT) in page.locator("table.events").inner_text()
    assert "(IST)" in page.locator("table.events thead").inner_text()
    assert page.get_by_label("Times in").input_value() == "local"

    page.get_by_label("Times in").select_option("utc")
    page.wait_for_url("**tz=utc**")
    assert text(event_ms) in page.locator("table.events").inner_text()
    page.goto(live.url + "/logs")
    assert text(event_ms) in page.locator("tr", has_text=GROUP).inner_text()


def test_a_zone_in_the_address_is_shown_and_a_bad_one_is_ignored(live, event_ms):
    import httpx

    r = httpx.get(live.url + "/logs", params={"tz": "America/New_York"}, timeout=60)
    assert "rexwatch_tz=America/New_York" in r.headers.get("set-cookie", "")
    ny = dt.datetime.fromtimestamp(event_ms / 1000, dt.UTC).astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert ny.strftime("%Y-%m-%d %H:%M:%S") in r.text
    for bad in ("../../etc/passwd", "Not/AZone", "x" * 500):
        r = httpx.get(live.url + "/logs", params={"tz": bad}, timeout=60)
        assert r.status_code == 200 and text(event_ms) in r.text and 'data-tz="UTC"' in r.text

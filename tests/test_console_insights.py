"""The Insights page in headless Chromium: the runbook's four queries run from the editor with
their tables checked, a chart for stats ... by bin(), errors at their position, saved queries."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from rexwatch.services.logs import LogsService
from rexwatch.services.logs.model import LogEventBatch

API = "/aws/ecs/utm-api"


@pytest.fixture
def data(runtime) -> LogsService:
    svc = runtime.service(LogsService)
    svc.create_log_group(API)
    svc.create_log_stream(API, "web-1")
    events = []
    for i in range(40):
        events.append({"method": "GET", "path": "/api/tenants" if i % 4 else "/api/users", "duration": 200 + i * 50,
                       "level": "info"})
    for i in range(6):
        events.append({"action": "login", "success": False, "user_id": f"u{i % 2}", "ip_address": "10.0.0.9"})
    events.append({"action": "login", "success": True, "user_id": "u9", "ip_address": "10.0.0.1"})
    t0 = int(time.time() * 1000) - 30 * 60_000
    batch = [(t0 + i * 30_000, json.dumps(e)) for i, e in enumerate(events)]
    batch += [(t0 + 47 * 30_000 + i, f"ERROR payment failed <b>{i}</b>") for i in range(3)]
    svc.put_log_events(API, "web-1", LogEventBatch.of(batch))
    return svc


@pytest.fixture
def page(browser):
    p = browser.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    p.close()
    assert errors == [], errors


def run_sample(page, base: str, label: str) -> tuple[list[str], list[list[str]]]:
    page.goto(base + "/insights")
    page.get_by_label("Log groups").select_option([API])
    page.get_by_role("button", name=label).click()
    page.get_by_role("button", name="Run query").click()
    page.wait_for_selector("#results[data-status=Complete]", timeout=60_000)
    heads = page.locator("table.results thead th").all_inner_texts()
    rows = [r.locator("td").all_inner_texts() for r in page.locator("table.results tbody tr").all()]
    return heads, rows


def test_runbook_find_errors(page, live, data):
    heads, rows = run_sample(page, live.url, "Find errors")
    assert heads == ["@timestamp", "@message"]
    assert [r[1] for r in rows] == [f"ERROR payment failed <b>{i}</b>" for i in (2, 1, 0)]  # newest first, as text
    assert page.locator("table.results b").count() == 0
    assert "run=1" in page.url and "q=" in page.url  # linkable


def test_runbook_slow_requests(page, live, data):
    heads, rows = run_sample(page, live.url, "Slow API requests")
    assert heads == ["@timestamp", "method", "path", "duration"]
    durations = [int(r[3]) for r in rows]
    assert durations == sorted((200 + i * 50 for i in range(40) if 200 + i * 50 > 1000), reverse=True)


def test_runbook_failed_logins(page, live, data):
    heads, rows = run_sample(page, live.url, "Failed login attempts")
    assert heads == ["user_id", "ip_address", "count()"]
    assert sorted(rows) == [["u0", "10.0.0.9", "3"], ["u1", "10.0.0.9", "3"]]


def test_runbook_request_volume(page, live, data):
    heads, rows = run_sample(page, live.url, "Request volume by endpoint")
    assert heads == ["path", "count"] or heads[0] == "path"
    assert rows[0][:2] == ["/api/tenants", "30"] and rows[1][:2] == ["/api/users", "10"]


def test_stats_by_bin_draws_a_chart(page, live, data):
    heads, rows = run_sample(page, live.url, "Errors over time")
    assert heads == ["bin(5m)", "count()"]
    assert sum(int(r[1]) for r in rows) == 3
    page.wait_for_selector("#insights-chart canvas")
    assert page.evaluate("document.getElementById('insights-chart').uplot.series.length") == 2


def test_query_error_points_at_its_position(page, live, data):
    q = "fields @message\n| stats count( by path"
    resp = page.goto(live.url + "/insights?run=1&group=" + quote(API) + "&q=" + quote(q))
    assert resp.status == 400
    alert = page.locator("#query-error")
    assert "line 2, column 16" in alert.inner_text()
    assert alert.locator("mark").inner_text() == "by"
    assert page.evaluate("document.getElementById('query').selectionStart") == q.index("by")


def test_query_without_groups_is_explained(page, live, data):
    page.goto(live.url + "/insights?run=1&q=" + quote("fields @message"))
    assert "log group" in page.locator("#query-error").inner_text()


def test_save_and_load_a_query_definition(page, live, data):
    q = "fields @timestamp, path | filter duration > 2000"
    page.goto(live.url + "/insights?group=" + quote(API) + "&q=" + quote(q))
    page.get_by_text("Sample and saved queries").click()
    page.get_by_label("Save this query as").fill("slow <requests>")
    page.get_by_role("button", name="Save", exact=True).click()
    assert "Saved “slow <requests>”" in page.locator("[role=status]").first.inner_text()
    page.goto(live.url + "/insights")
    page.get_by_role("link", name="slow <requests>").click()
    assert page.get_by_label("Query", exact=False).first.input_value() == q


def test_save_without_csrf_token_is_refused(live, data):
    import httpx

    r = httpx.post(live.url + "/insights/save", data={"name": "x", "q": "fields @message"})
    assert r.status_code == 403
    assert "CSRF" in r.text

"""The console's logs pages in headless Chromium against a live server holding real events:
the group list, a group's events (filter pattern, errors at their position, click-to-filter,
histogram, paging), live tail, and hostile names rendered as text."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from rexwatch.services.logs import LogsService
from rexwatch.services.logs.model import LogEventBatch

API = "/aws/ecs/utm-api"
HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1">'


def now_ms() -> int:
    return int(time.time() * 1000)


def put(svc: LogsService, group: str, stream: str, messages: list[str], start_ms: int | None = None) -> None:
    t0 = (start_ms or now_ms() - 60_000)
    svc.put_log_events(group, stream, LogEventBatch.of([(t0 + i, m) for i, m in enumerate(messages)]))


@pytest.fixture
def logs(runtime) -> LogsService:
    svc = runtime.service(LogsService)
    for g in (API, "/aws/ecs/utm-worker", "/aws/rds/utm-db"):
        svc.create_log_group(g)
    svc.create_log_stream(API, "web-1")
    svc.create_log_stream(API, HOSTILE)
    svc.put_retention_policy("/aws/rds/utm-db", 30)
    svc.put_index_policy(API, json.dumps({"Fields": ["path", "user.id"]}))
    messages = [json.dumps({"level": "error" if i % 5 == 0 else "info", "path": f"/api/p{i % 3}",
                            "duration": i * 10, "user": {"id": f"u{i % 4}"}}) for i in range(150)]
    put(logs_svc := svc, API, "web-1", messages)
    put(logs_svc, API, HOSTILE, [f"<script>document.body.dataset.pwned=2</script> {HOSTILE}"])
    svc.create_log_stream("/aws/ecs/utm-worker", "w")
    put(svc, "/aws/ecs/utm-worker", "w", ["job done"] * 3)
    return svc


@pytest.fixture
def page(browser):
    p = browser.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("dialog", lambda d: (errors.append("dialog: " + d.message), d.dismiss()))
    yield p
    p.close()
    assert errors == [], errors


def test_navigation_reaches_every_page(page, live):
    page.goto(live.url + "/")
    nav = page.get_by_role("navigation", name="Main")
    for label, title in (("Logs", "Logs · rexwatch"), ("Insights", "Insights · rexwatch"),
                         ("Live tail", "Live tail · rexwatch"), ("Traces", "Traces · rexwatch"),
                         ("Alarms", "Alarms · rexwatch")):
        nav.get_by_role("link", name=label, exact=True).click()
        expect(page).to_have_title(title, timeout=60_000)  # the new page may still be parsing after the click
        assert nav.locator("[aria-current=page]").inner_text() == label


def test_group_list_sorts_and_searches(page, live, logs):
    page.goto(live.url + "/logs")
    rows = page.locator("table.groups tbody tr")
    assert rows.locator("td:first-child").all_inner_texts() == [API, "/aws/ecs/utm-worker", "/aws/rds/utm-db"]
    db = rows.filter(has_text="/aws/rds/utm-db")
    assert "30 days" in db.inner_text()
    api = rows.filter(has_text=API)
    assert "KiB" in api.locator("td").nth(2).inner_text()
    assert api.locator("td").nth(4).inner_text() == "path, user.id"
    assert api.locator("td").nth(3).inner_text().startswith(time.strftime("%Y-", time.gmtime()))
    page.get_by_role("link", name="Stored").click()  # ascending by stored bytes
    page.get_by_role("link", name="Stored ▲").click()  # then descending
    assert rows.first.locator("td").first.inner_text() == API
    assert "desc=1" in page.url and "sort=bytes" in page.url
    page.get_by_label("Search").fill("worker")
    page.get_by_role("button", name="Search").click()
    # A waiting check: right after the click the new page may not have its table parsed yet.
    expect(rows.locator("td:first-child")).to_have_text(["/aws/ecs/utm-worker"], timeout=60_000)


def test_empty_logs_page_teaches_sending_the_first_event(page, live):
    page.goto(live.url + "/logs")
    text = page.locator("section.empty").inner_text()
    assert "aws --endpoint-url" in text and "boto3" in text and "curl -X POST" in text


def test_group_page_filters_pages_and_draws_a_histogram(page, live, logs):
    page.goto(live.url + "/logs/group?name=" + quote(API))
    assert page.locator("h2", has_text="matching events").inner_text().startswith("151 matching events")
    page.wait_for_selector("#histogram canvas")
    assert page.locator("table.events tbody tr").count() == 50  # a page of 50
    for _ in range(3):
        page.get_by_role("link", name="Next page →").click()
    expect(page.locator("table.events tbody tr")).to_have_count(1, timeout=60_000)  # once the page is parsed
    assert page.get_by_role("link", name="Next page →").count() == 0

    page.get_by_label("Filter pattern").fill("{ $.duration >= 1400 }")
    page.get_by_role("button", name="Search").click()
    assert page.locator("h2", has_text="matching").inner_text().startswith("10 matching events")
    assert "pattern=" in page.url  # the view is linkable


def test_click_on_a_json_value_filters_on_it(page, live, logs):
    page.goto(live.url + "/logs/group?name=" + quote(API) + "&stream=web-1")
    page.locator("table.events tbody tr").first.locator("button.jv", has_text='"error"').click()
    page.wait_for_url("**pattern=*")
    assert page.get_by_label("Filter pattern").input_value() == '{ $.level = "error" }'
    assert page.locator("h2", has_text="matching").inner_text().startswith("30 matching events")
    # A second click narrows further with &&.
    page.locator("table.events tbody tr").first.locator("button.jv", has_text='"u0"').click()
    page.wait_for_url("**%26%26*")
    assert page.get_by_label("Filter pattern").input_value() == '{ ($.level = "error") && $.user.id = "u0" }'
    assert page.locator("h2", has_text="matching").inner_text().startswith("8 matching events")


def test_pattern_syntax_error_points_at_its_position(page, live, logs):
    page.goto(live.url + "/logs/group?name=" + quote(API))
    box = page.get_by_label("Filter pattern")
    box.fill("{ $.duration > }")
    box.press("Enter")
    alert = page.locator("#pattern-error")
    assert "column 16" in alert.inner_text()
    assert alert.locator("mark").inner_text() == "}"
    assert box.get_attribute("aria-invalid") == "true"
    # The console's script puts the cursor there once the new page is parsed: wait for it.
    expect(box).to_be_focused(timeout=60_000)
    assert page.evaluate("document.activeElement.id") == "pattern"
    assert page.evaluate("document.getElementById('pattern').selectionStart") == 15


def test_hostile_names_and_messages_render_as_text(page, live, logs):
    page.goto(live.url + "/logs/group?name=" + quote(API))
    cell = page.locator("table.streams td", has_text="<img")
    assert cell.inner_text() == HOSTILE
    page.goto(live.url + "/logs/group?name=" + quote(API) + "&stream=" + quote(HOSTILE))
    assert HOSTILE in page.locator("td.message").inner_text()
    assert "<script>" in page.locator("td.message").inner_text()
    assert page.locator("main img").count() == 0
    assert page.evaluate("document.body.dataset.pwned") is None


def test_missing_group_and_bad_time_range_are_explained(page, live, logs):
    resp = page.goto(live.url + "/logs/group?name=/no/such")
    assert resp.status == 404 and "does not exist" in page.locator("main").inner_text()
    # rexwatch's own groups, linked from the security and audit pages before their first event.
    for name, what in (("/rexwatch/security", "blocked or unblocked"), ("/rexwatch/audit", "audit trail")):
        resp = page.goto(live.url + "/logs/group?name=" + quote(name))
        assert resp.status == 200 and page.locator("h1").inner_text().startswith(name)
        assert what in page.locator("main").inner_text() and "nothing has been recorded yet" in page.inner_text("main")
    page.goto(live.url + "/logs/group?name=" + quote(API) + "&since=banana")
    assert "time range not used" in page.locator("[role=alert]").inner_text()


def test_time_range_picker_keeps_the_range_in_the_url(page, live, logs):
    old = now_ms() - 3 * 86_400_000
    put(logs, "/aws/ecs/utm-worker", "w", ["old event"], start_ms=old)
    page.goto(live.url + "/logs/group?name=/aws/ecs/utm-worker")
    assert page.locator("h2", has_text="matching").inner_text().startswith("3 matching")
    page.get_by_label("Last").select_option("7d")
    page.wait_for_url("**since=7d*")
    assert page.locator("h2", has_text="matching").inner_text().startswith("4 matching")
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(old / 1000 - 60))
    page.goto(live.url + f"/logs/group?name=/aws/ecs/utm-worker&start={iso}&end=2d")
    assert page.locator("h2", has_text="matching").inner_text().startswith("1 matching")


def test_live_tail_streams_pauses_resumes_and_highlights(page, live, logs):
    page.goto(live.url + "/logs/tail")
    page.get_by_label("Log groups").select_option([API])
    page.get_by_label("Filter pattern").fill("checkout")
    page.get_by_role("button", name="Start tailing").click()
    page.wait_for_selector("#tail[data-ready]")
    put(logs, API, "web-1", ["checkout ok order=1", "login ok", "checkout failed order=2"], start_ms=now_ms())
    # Locator waits, not wait_for_function: that evaluates a string, which the page's CSP forbids.
    expect(page.locator("#tail li")).to_have_count(2, timeout=60_000)
    assert "order=2" in page.locator("#tail li").nth(1).inner_text()

    page.get_by_role("button", name="Pause").click()
    put(logs, API, "web-1", ["checkout while paused"], start_ms=now_ms())
    expect(page.locator("#tail-status")).to_contain_text("1 new events held", timeout=60_000)
    assert page.locator("#tail li").count() == 2
    page.get_by_role("button", name="Resume").click()
    assert page.locator("#tail li").count() == 3

    page.get_by_label("Highlight").fill("order")
    assert page.locator("#tail mark").all_inner_texts() == ["order", "order"]


def test_live_tail_reports_a_bad_pattern(page, live, logs):
    page.goto(live.url + "/logs/tail?group=" + quote(API) + "&pattern=" + quote("{ $.a = }"))
    page.wait_for_selector("#tail-status.error")
    assert "column" in page.locator("#tail-status").inner_text()


def test_with_auth_on_console_pages_show_nothing_without_a_key(live, logs):
    import httpx

    live.runtime.settings.auth = "on"
    for path in ("/logs", "/logs/group?name=" + quote(API), "/logs/tail/stream?group=" + quote(API), "/insights"):
        r = httpx.get(live.url + path, timeout=60)
        assert r.status_code == 401, path
        assert "utm-api" not in r.text


def test_export_to_parquet_from_the_group_page(page, live, logs):
    import pyarrow.parquet as pq

    page.goto(live.url + "/logs/group?name=" + quote(API) + "&since=1h&pattern=" + quote('{ $.level = "error" }'))
    with page.expect_download() as info:
        page.get_by_role("link", name="Export to Parquet").click()
    assert info.value.suggested_filename.endswith(".parquet")
    table = pq.read_table(info.value.path())
    assert table.num_rows == 30  # the 150 events' errors, the page's pattern applied
    assert set(table.column("log_group").to_pylist()) == {API}
    assert all(json.loads(m)["level"] == "error" for m in table.column("message").to_pylist())
    ts = table.column("timestamp").to_pylist()
    assert ts == sorted(ts)


def test_export_streams_many_row_groups_and_explains_bad_input(live, logs, monkeypatch):
    import io

    import httpx
    import pyarrow.parquet as pq

    from rexwatch.services.logs import export

    monkeypatch.setattr(export, "PARQUET_ROW_GROUP", 40)  # small row groups: the file comes in pieces
    with httpx.stream("GET", live.url + "/logs/group/export", params={"name": API, "since": "1h"},
                      timeout=60) as r:
        assert r.status_code == 200 and r.headers["x-total-events"] == "151"
        pieces = [c for c in r.iter_raw() if c]
    f = pq.ParquetFile(io.BytesIO(b"".join(pieces)))
    assert f.metadata.num_rows == 151 and f.metadata.num_row_groups >= 4
    bad = httpx.get(live.url + "/logs/group/export", params={"name": API, "pattern": "{ $.x = "}, timeout=60)
    assert bad.status_code == 400 and "pattern" in bad.text.lower()
    missing = httpx.get(live.url + "/logs/group/export", params={"name": "/nope"}, timeout=60)
    assert missing.status_code == 404
    rng = httpx.get(live.url + "/logs/group/export", params={"name": API, "start": "yesterday-ish"},
                    timeout=60)
    assert rng.status_code == 400 and "time range" in rng.text


def test_auto_refresh_reloads_the_page_with_new_events(page, live, logs):
    page.goto(live.url + "/logs/group?name=" + quote("/aws/ecs/utm-worker") + "&since=15m")
    assert page.locator("table.events tbody tr").count() == 3
    page.get_by_label("Auto refresh").select_option("10s")
    page.wait_for_url("**refresh=10s**")
    assert page.get_attribute("body", "data-refresh-seconds") == "10"
    put(logs, "/aws/ecs/utm-worker", "w", ["fresh event"])
    # The page reloads itself on its interval: the new event shows without anyone touching it.
    expect(page.locator("table.events")).to_contain_text("fresh event", timeout=60_000)
    assert "refresh=10s" in page.url
    # Links that keep the range keep the refresh too.
    assert "refresh=10s" in page.get_by_role("link", name="Query in Insights").get_attribute("href")


def test_histogram_comes_after_the_events_and_explains_problems(live, logs):
    import httpx

    page = httpx.get(live.url + "/logs/group", params={"name": API, "since": "1h"}, timeout=60).text
    # The events first (a page of 50, JSON pretty-printed after the first paint); the count and the
    # streams later.
    assert page.count('<tr>') == 51 and "Counting the matching events" in page and "Reading the streams" in page
    assert page.count("<template>") >= 40 and "data-pretty" in page
    streams = httpx.get(live.url + "/logs/group/streams", params={"name": API, "since": "1h"}, timeout=60)
    assert streams.status_code == 200 and "web-1" in streams.text and "the group stores" in streams.text
    missing = httpx.get(live.url + "/logs/group/streams", params={"name": "/nope", "since": "1h"}, timeout=60)
    assert missing.status_code == 200 and 'role="alert"' in missing.text and "/nope" in missing.text
    frag = httpx.get(live.url + "/logs/group/histogram",
                     params={"name": API, "since": "1h", "pattern": '{ $.level = "error" }', "label": "<b>x</b>"},
                     timeout=60)
    assert frag.status_code == 200 and "30 matching events" in frag.text and "&lt;b&gt;x&lt;/b&gt;" in frag.text
    missing = httpx.get(live.url + "/logs/group/histogram", params={"name": "/nope", "since": "1h"},
                        timeout=60)
    assert missing.status_code == 200 and 'role="alert"' in missing.text and "/nope" in missing.text

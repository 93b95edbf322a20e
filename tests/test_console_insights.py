"""The Insights page in headless Chromium: the runbook's four queries run from the editor with
their tables checked, a chart for stats ... by bin(), errors at their position, saved queries."""

from __future__ import annotations

import json
import time
from pathlib import Path
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
    """In the page's words (choose from the list), not StartQuery's parameter names."""
    resp = page.goto(live.url + "/insights?run=1&q=" + quote("fields @message"))
    assert resp.status == 400
    assert page.locator("#query-error").inner_text() == "Choose at least one log group to query."


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


def test_editor_highlights_and_completes_commands_functions_and_fields(page, live, data):
    page.goto(live.url + "/insights?group=" + quote(API))
    page.wait_for_selector("#query[data-completions]")
    assert int(page.get_attribute("#query", "data-completions")) >= 5  # @timestamp... plus duration, path, ...
    editor = page.locator("#query")
    editor.click()
    editor.press_sequentially("fields @timestamp\n| st")
    options = page.locator("#query-complete [role=option]")
    assert options.all_inner_texts()[0].startswith("stats")
    editor.press("Enter")  # takes the completion instead of a new line
    assert editor.input_value() == "fields @timestamp\n| stats "
    editor.press_sequentially("avg(dur")
    page.wait_for_selector("#query-complete [data-kind=field]")
    first = options.first.inner_text()
    assert first.startswith("duration") and "%" in first  # a field of the group's events, with its share
    editor.press("Tab")
    editor.press_sequentially(") by bi")
    assert page.locator("#query-complete [data-kind=function]").first.inner_text().startswith("bin")
    editor.press("ArrowDown")  # moving and Escape leave the text as typed
    editor.press("Escape")
    assert page.locator("#query-complete").is_hidden()
    assert editor.input_value() == "fields @timestamp\n| stats avg(duration) by bi"
    # The highlighted copy under the textarea marks commands, functions and fields.
    assert page.locator("#query-highlight .hl-cmd").all_inner_texts() == ["fields", "stats"]
    assert page.locator("#query-highlight .hl-fn").all_inner_texts() == ["avg"]
    assert "duration" in page.locator("#query-highlight .hl-field").all_inner_texts()


def test_completions_follow_the_chosen_groups(live, data):
    import httpx

    r = httpx.get(live.url + "/insights/complete", params={"group": API, "since": "1h"}, timeout=60)
    body = r.json()
    assert "stats" in body["commands"] and "pct" in body["functions"]
    names = {f["name"] for f in body["fields"]}
    assert {"@message", "duration", "user_id", "ip_address"} <= names
    empty = httpx.get(live.url + "/insights/complete", timeout=60).json()
    assert empty["fields"] == [] and empty["commands"] == body["commands"]


def test_a_queued_query_shows_progress_and_can_be_cancelled(page, live, data, runtime):
    import threading

    from rexwatch.services.insights.service import QueriesService

    svc = runtime.service(QueriesService)
    # Keep the query worker busy, so the page's query waits in the queue until it is cancelled.
    busy = threading.Event()
    release = threading.Event()
    blockers = [svc._pool.submit(lambda: (busy.set(), release.wait(60))) for _ in range(svc._pool._max_workers)]
    try:
        assert busy.wait(60)
        page.goto(live.url + "/insights?run=1&group=" + quote(API) + "&q=" + quote("fields @message"))
        progress = page.locator("#progress")
        progress.wait_for()
        assert "records scanned" in progress.inner_text() and " s ·" in progress.inner_text()
        page.get_by_role("button", name="Cancel query").click()
        page.wait_for_selector("#results[data-status=Cancelled]")
        assert "cancelled" in page.locator("#results").inner_text()
        (query_id,) = [q.query_id for q in svc.describe_queries()[0] if q.query_string == "fields @message"]
        assert svc.get_query_results(query_id).status == "Cancelled"
    finally:
        release.set()
        for b in blockers:
            b.result(60)


def test_running_query_reports_the_records_it_scans(data, runtime):
    from rexwatch.services.insights.service import QueriesService

    svc = runtime.service(QueriesService)
    now = int(time.time())
    qid = svc.start_query("filter @message like /ERROR/ | stats count() by bin(5m)", group_names=[API],
                          start_s=now - 3600, end_s=now)
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = svc.get_query_results(qid)
        seen.append((r.status, r.statistics.records_scanned))
        if r.status == "Complete":
            break
        time.sleep(0.001)
    assert seen[-1] == ("Complete", 50.0)
    # While it ran, the records it had read so far (the store's progress) only grew.
    counts = [n for _, n in seen]
    assert counts == sorted(counts)


def test_a_statement_named_by_a_query_id_reports_progress_and_is_killed(runtime):
    """The store's side of Cancel: a statement that would run for days is seen in system.processes,
    reports the rows it reads, and KILL QUERY stops it."""
    import threading

    x = runtime.telemetry
    reads: list[int] = []
    out: dict[str, str] = {}

    def endless() -> None:
        try:
            x.query_rows("SELECT count() FROM numbers(1000000000000) WHERE sipHash64(number) % 7 = 1",
                         settings={"max_execution_time": 0}, query_id="endless-1",
                         progress=lambda rows, _bytes: reads.append(rows))
        except Exception as e:
            out["error"] = str(e)

    worker = threading.Thread(target=endless)
    worker.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (reads and x.running("endless-1")):
        time.sleep(0.005)
    assert reads and x.running("endless-1") == 1
    assert x.kill_query("endless-1") == 1
    worker.join(60)
    assert not worker.is_alive() and "QUERY_WAS_CANCELLED" in out["error"]
    assert x.running("endless-1") == 0
    assert x.query_rows("SELECT 1") == [(1,)]  # the connection serves the next statement


def test_cancel_stops_a_running_query_in_the_store_and_frees_the_worker(runtime):
    from rexwatch.services.insights.service import QueriesService

    logs = runtime.service(LogsService)
    logs.create_log_group("/big")
    logs.create_log_stream("/big", "s")
    t0 = int(time.time() * 1000) - 3_600_000
    for b in range(0, 100_000, 10_000):
        logs.put_log_events("/big", "s", LogEventBatch.of(
            [(t0 + i, f'{{"user":"u{i % 977}","path":"/api/{i % 13}","n":{i}}}') for i in range(b, b + 10_000)]))
    svc = runtime.service(QueriesService)
    now = int(time.time())
    qid = svc.start_query("parse @message /(?<a>.*)(?<b>u.*)(?<c>p.*)/ | stats count() by a, b, c",
                          group_names=["/big"], start_s=now - 7200, end_s=now)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = svc.get_query_results(qid)
        if r.status == "Running" and r.statistics.records_scanned > 0:
            break
        time.sleep(0.002)
    assert r.status == "Running" and 0 < r.statistics.records_scanned <= 100_000  # progress, live
    assert svc.running_statements(qid) == 1  # the store lists the query's statement (by its id)
    assert svc.stop_query(qid) is True
    # KILL QUERY … SYNC: the statement is gone from the store when StopQuery returns.
    assert svc.running_statements(qid) == 0
    assert svc.get_query_results(qid).status == "Cancelled"
    # The (single) query worker is free: the next query runs to the end.
    assert svc.wait(svc.start_query("stats count()", group_names=["/big"], start_s=now - 7200, end_s=now),
                    timeout_s=60).status == "Complete"


def test_history_is_kept_per_browser_and_reruns(page, live, data, browser):
    for q in ("fields @message | limit 1", "fields path | limit 2"):
        page.goto(live.url + "/insights?run=1&group=" + quote(API) + "&q=" + quote(q))
        page.wait_for_selector("#results[data-status=Complete]")
    page.goto(live.url + "/insights")
    links = page.locator("#history a")
    assert links.all_inner_texts() == ["fields path | limit 2", "fields @message | limit 1"]  # newest first
    # Running the same query again does not add it twice.
    links.first.click()
    page.goto(live.url + "/insights")
    assert page.locator("#history a").count() == 2
    page.locator("#history a").nth(1).click()
    assert page.locator("#query").input_value() == "fields @message | limit 1"
    assert page.locator("#groups option:checked").all_inner_texts() == [API]
    # Another browser has a history of its own.
    other = browser.new_context().new_page()
    other.goto(live.url + "/insights")
    assert other.locator("#history a").count() == 0
    assert "appear here" in other.locator(".samples-box").inner_text()
    other.context.close()


def test_history_belongs_to_the_signed_in_user(runtime, data):
    from rexwatch.services.insights.service import HISTORY_KEEP, QueriesService

    svc = runtime.service(QueriesService)
    for i in range(HISTORY_KEEP + 5):
        svc.record_history("user:ann", f"fields @message | limit {i + 1}", [API])
    svc.record_history("user:bob", "fields path", [API])
    ann = svc.history("user:ann", HISTORY_KEEP)
    assert len(ann) == HISTORY_KEEP and ann[0].query_string == f"fields @message | limit {HISTORY_KEEP + 5}"
    assert [h.query_string for h in svc.history("user:bob")] == ["fields path"]


def test_download_results_as_csv_and_json(page, live, data):
    import csv
    import io

    q = 'fields user_id, ip_address | filter action = "login" | sort user_id | limit 3'
    page.goto(live.url + "/insights?run=1&group=" + quote(API) + "&q=" + quote(q))
    page.wait_for_selector("#results[data-status=Complete]")
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV").click()
    assert info.value.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    assert rows == [["user_id", "ip_address"], ["u0", "10.0.0.9"], ["u0", "10.0.0.9"], ["u0", "10.0.0.9"]]
    with page.expect_download() as info:
        page.get_by_role("link", name="JSON").click()
    assert json.loads(Path(info.value.path()).read_text(encoding="utf-8"))[0] == {"user_id": "u0", "ip_address": "10.0.0.9"}


def test_csv_download_defuses_spreadsheet_formulas(live, data, runtime):
    import httpx

    from rexwatch.services.insights.service import QueriesService

    svc = runtime.service(QueriesService)
    data.put_log_events(API, "web-1", LogEventBatch.of([(int(time.time() * 1000), '{"v": "=HYPERLINK(1)", "n": -3}')]))
    now = int(time.time())
    qid = svc.start_query("fields v, n | filter ispresent(v)", group_names=[API], start_s=now - 60, end_s=now + 1)
    assert svc.wait(qid).status == "Complete"
    r = httpx.get(live.url + "/insights/download", params={"id": qid, "format": "csv"}, timeout=60)
    assert r.status_code == 200 and r.text.splitlines()[1] == "'=HYPERLINK(1),-3"
    bad = httpx.get(live.url + "/insights/download", params={"id": qid, "format": "xml"}, timeout=60)
    assert bad.status_code == 400 and "csv or json" in bad.text
    missing = httpx.get(live.url + "/insights/download", params={"id": "nope"}, timeout=60)
    assert missing.status_code == 404


def test_stop_without_csrf_token_is_refused(live, data):
    import httpx

    r = httpx.post(live.url + "/insights/stop", data={"id": "x"})
    assert r.status_code == 403


def test_a_chart_of_many_bins_is_thinned_to_the_width_but_keeps_its_spike():
    from rexwatch.web.insights import chart_of

    base = 1_700_000_000
    rows = [(time.strftime("%Y-%m-%d %H:%M:%S.000", time.gmtime(base + 60 * i)), "500" if i == 7_777 else "1")
            for i in range(10_080)]  # a week of bin(1m)
    chart = chart_of(["bin(1m)", "count()"], rows, 560)
    assert 560 < len(chart["x"]) <= 2 * 560 and chart["columns"] == 560 and chart["points_in"] == 10_080
    assert max(chart["series"][0]["values"]) == 500 and min(chart["series"][0]["values"]) == 1

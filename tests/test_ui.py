"""The web UI in a real headless Chromium."""

from __future__ import annotations


def test_overview_page_renders(browser, live, tmp_path):
    page = browser.new_page()
    page.goto(live.url + "/")
    assert page.title() == "Overview · rexwatch"
    cards = page.locator(".card h2").all_inner_texts()
    assert {"Telemetry store", "Control store", "Authentication"} <= set(cards)
    assert page.locator(".state-up .big").first.inner_text() == "up"
    assert live.url in page.locator("pre").inner_text()
    page.screenshot(path=str(tmp_path / "overview.png"))
    page.close()

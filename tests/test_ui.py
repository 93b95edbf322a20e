"""The web UI in a real headless Chromium."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield b
        b.close()


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

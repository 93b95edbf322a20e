"""The console at phone width (375x740) in headless Chromium: no page scrolls sideways (wide tables
scroll inside their own box), and the navigation folded behind the Menu button opens and leads on."""

from __future__ import annotations

import pytest

from rexwatch import sample_data

PAGES = (
    "overview",
    "logs",
    "log-group",
    "insights",
    "metrics",
    "alarms",
    "alarm",
    "monitors",
    "notifications",
    "settings",
)
OVERFLOW = "() => [document.scrollingElement.scrollWidth, window.innerWidth]"


@pytest.fixture
def phone(browser):
    """One phone-sized browser context for the module's test; fails on any uncaught script error."""
    ctx = browser.new_context(viewport={"width": 375, "height": 740})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    ctx.close()
    assert errors == [], errors


def test_main_pages_fit_a_phone_and_the_menu_opens(phone, live, runtime):
    sample = sample_data.seed(runtime)
    wide = []
    for name, path in sample_data.pages(sample):
        if name not in PAGES:
            continue
        resp = phone.goto(live.url + path)
        assert resp is not None and resp.status == 200, (name, resp and resp.status)
        phone.wait_for_selector("body[data-console-ready]", state="attached")
        if name in ("metrics", "alarm", "log-group"):
            phone.wait_for_selector(".chart canvas", state="attached")
        if name == "insights":
            phone.wait_for_selector("#results[data-status=Complete]", timeout=60_000)
        scroll, inner = phone.evaluate(OVERFLOW)
        if scroll > inner:
            culprits = phone.evaluate("""() => Array.from(document.querySelectorAll('main *, header *'))
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)""")
            wide.append(f"{name}: {scroll} > {inner} ({culprits})")
    assert wide == [], "\n".join(wide)

    # The navigation is folded away and one tap opens it.
    phone.goto(live.url + "/logs")
    alarms = phone.get_by_role("navigation", name="Main").get_by_role("link", name="Alarms")
    assert not alarms.is_visible()
    menu = phone.get_by_role("button", name="Menu")
    assert menu.get_attribute("aria-expanded") == "false"
    menu.click()
    assert menu.get_attribute("aria-expanded") == "true" and alarms.is_visible()
    alarms.click()
    phone.wait_for_url(live.url + "/alarms")
    assert phone.locator("h1").inner_text() == "Alarms"
    assert phone.evaluate(OVERFLOW)[0] <= 375


def test_the_menu_works_without_scripts(browser, live):
    ctx = browser.new_context(viewport={"width": 375, "height": 740}, java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.goto(live.url + "/logs")
        link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Monitors")
        assert not link.is_visible()
        page.get_by_role("link", name="Menu").click()
        assert link.is_visible()
        link.click()
        assert page.locator("h1").inner_text() == "Monitors"
    finally:
        ctx.close()

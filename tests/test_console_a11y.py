"""Accessibility of every console page: the vendored axe-core engine runs in headless Chromium on
each page, filled with sample data, in the dark and the light theme, and no serious or critical
violation of WCAG 2.1 A/AA (or axe's best practices) may remain. Keyboard focus is checked too."""

from __future__ import annotations

import pytest

from rexwatch import sample_data

AXE = "/static/vendor/axe-core/axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = ("serious", "critical")


@pytest.fixture
def sample(runtime):
    return sample_data.seed(runtime)


def audit(page) -> list[dict]:
    page.add_script_tag(url=AXE)  # served by the server itself, so the pages' CSP lets it run
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
                           TAGS)
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def describe(name: str, violations: list[dict]) -> list[str]:
    out = []
    for v in violations:
        targets = "; ".join(" ".join(n["target"]) if isinstance(n["target"], list) else str(n["target"])
                            for n in v["nodes"][:3])
        out.append(f"{name}: {v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {v['help']} — {targets}")
    return out


def settle(page, name: str) -> None:
    if name == "insights":
        page.wait_for_selector("#results[data-status=Complete]", timeout=60_000)
    if name in ("metrics", "alarm", "log-group"):
        page.wait_for_selector(".chart canvas", state="attached", timeout=60_000)
    if name == "dashboard":
        page.wait_for_selector(".widget canvas", state="attached", timeout=60_000)
    if name == "api-docs":
        page.wait_for_selector(".swagger-ui .info", timeout=60_000)


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_every_page_passes_axe(browser, live, sample, scheme):
    ctx = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    problems: list[str] = []
    checked = []
    try:
        for name, path in sample_data.pages(sample):
            resp = page.goto(live.url + path)
            assert resp is not None and resp.status == 200, (name, resp and resp.status)
            settle(page, name)
            problems += describe(name, audit(page))
            checked.append(name)
    finally:
        ctx.close()
    assert len(checked) == len(sample_data.pages(sample))
    assert problems == [], "\n".join(problems)


BACKGROUND = {"dark": "rgb(15, 20, 25)", "light": "rgb(255, 255, 255)"}
THEMED = ("overview", "metrics", "alarms", "monitors", "target-group", "notifications", "status-page")


@pytest.mark.parametrize(("system", "chosen"), [("dark", "light"), ("light", "dark")])
def test_a_chosen_theme_overrides_the_system_and_passes_axe(browser, live, sample, system, chosen):
    """The theme cookie wins over the system's preference, rendered by the server (the first paint
    has it), and a few pages pass axe in it; the rest of the pages run in both themes above."""
    ctx = browser.new_context(color_scheme=system, viewport={"width": 1280, "height": 900})
    ctx.add_cookies([{"name": "rexwatch_theme", "value": chosen, "url": live.url}])
    page = ctx.new_page()
    problems: list[str] = []
    try:
        for name, path in sample_data.pages(sample):
            if name not in THEMED:
                continue
            resp = page.goto(live.url + path)
            assert resp is not None and resp.status == 200
            assert f'data-theme="{chosen}"' in resp.text()  # in the HTML itself, before any script runs
            settle(page, name)
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == BACKGROUND[chosen]
            problems += describe(f"{name} ({chosen} on a {system} system)", audit(page))
    finally:
        ctx.close()
    assert problems == [], "\n".join(problems)


def test_the_theme_switch_applies_at_once_and_is_remembered(browser, live, sample):
    ctx = browser.new_context(color_scheme="dark")
    page = ctx.new_page()
    try:
        page.goto(live.url + "/alarms")
        body = "getComputedStyle(document.body).backgroundColor"
        assert page.locator("html").get_attribute("data-theme") == "system"
        assert page.evaluate(body) == BACKGROUND["dark"]
        page.get_by_label("Theme").select_option("light")
        page.wait_for_function("getComputedStyle(document.body).backgroundColor === 'rgb(255, 255, 255)'")
        assert page.url == live.url + "/alarms"  # no reload, nothing in the address
        assert {c["name"]: c["value"] for c in ctx.cookies()}["rexwatch_theme"] == "light"
        page.get_by_role("link", name="Monitors", exact=True).click()
        # The click returns once the new page is committed: its stylesheet may not be applied yet.
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("data-theme") == "light"
        assert page.evaluate(body) == BACKGROUND["light"]
        page.get_by_label("Theme").select_option("system")
        page.wait_for_function("getComputedStyle(document.body).backgroundColor === 'rgb(15, 20, 25)'")
    finally:
        ctx.close()
    # Without scripts the switch is a form: ?theme= is remembered in the same cookie.
    ctx = browser.new_context(color_scheme="dark", java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.goto(live.url + "/logs?theme=light")
        page.goto(live.url + "/alarms")
        assert page.locator("html").get_attribute("data-theme") == "light"
        page.goto(live.url + "/alarms?theme=bogus")
        assert page.locator("html").get_attribute("data-theme") == "light"
    finally:
        ctx.close()


def test_keyboard_reaches_the_navigation_with_a_visible_focus(browser, live, sample):
    page = browser.new_page()
    page.goto(live.url + "/logs")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    page.goto(live.url + "/logs")
    for _ in range(3):
        page.keyboard.press("Tab")
    focused = page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
                                       return [e.tagName, e.textContent, s.outlineStyle, parseFloat(s.outlineWidth)]; }""")
    assert focused[0] == "A" and focused[1] == "Overview" and focused[2] == "solid" and focused[3] >= 2
    page.close()

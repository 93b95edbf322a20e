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
        page.wait_for_selector(".chart canvas", state="attached")
    if name == "dashboard":
        page.wait_for_selector(".widget canvas", state="attached")
    if name == "api-docs":
        page.wait_for_selector(".swagger-ui .info", timeout=30_000)


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

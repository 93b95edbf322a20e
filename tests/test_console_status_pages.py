"""Status page management in headless Chromium: create a public status page choosing its
monitors, preview it before saving, change its monitors, see the public page follow, delete it."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from rexwatch.services.monitors import MonitorService


@pytest.fixture
def monitors(runtime) -> list[dict]:
    svc = runtime.service(MonitorService)
    return [svc.create({"name": name, "type": "push", "interval": 60}) for name in ("api", "worker <b>", "db")]


def test_create_preview_edit_and_delete_a_status_page(page, live, runtime, monitors):
    svc = runtime.service(MonitorService)
    page.goto(live.url + "/monitors")
    page.get_by_role("link", name="Status pages").click()
    assert "No status pages yet" in page.inner_text("main")
    page.get_by_role("link", name="Create a status page").click()
    page.get_by_label("Address (slug)").fill("utm")
    page.get_by_label("Title").fill("UTM <status>")
    page.get_by_label("Description").fill("Public services")
    page.get_by_role("checkbox", name="api").check()
    page.get_by_role("checkbox", name="worker <b>").check()
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    assert "not saved yet" in preview.inner_text()
    assert preview.locator("h3").inner_text() == "UTM <status>"
    # Waiting: the monitors come after the heading, and the new page may still be parsing.
    expect(preview.locator(".sp-monitor strong")).to_have_text(["api", "worker <b>"], timeout=60_000)
    assert page.locator("#preview-banner").inner_text() == "All systems operational"
    assert svc.list_pages() == []  # a preview saves nothing
    # The form keeps what was typed, so it can be saved from the preview.
    assert page.get_by_role("checkbox", name="worker <b>").is_checked() and not page.get_by_role("checkbox", name="db").is_checked()
    page.get_by_role("button", name="Create").click()
    assert page.locator("[role=status]").inner_text() == "Created."
    (saved,) = svc.list_pages()
    assert saved["slug"] == "utm" and saved["monitors"] == [monitors[0]["id"], monitors[1]["id"]]

    # Change the monitors: the public page follows.
    page.get_by_role("checkbox", name="worker <b>").uncheck()
    page.get_by_role("checkbox", name="db").check()
    page.get_by_role("button", name="Save").click()
    assert page.locator("[role=status]").inner_text() == "Saved."
    assert "(as saved)" in page.locator("#preview").inner_text()
    public = httpx.get(live.url + "/status/utm.json", timeout=60).json()
    assert [m["name"] for m in public["monitors"]] == ["api", "db"]
    page.goto(live.url + "/status-pages")
    assert "api, db" in page.locator("table.status-pages").inner_text()
    assert page.locator("table.status-pages a", has_text="/status/utm").count() == 1

    page.get_by_role("link", name="Manage UTM <status>").click()
    page.get_by_label("I mean it").check()
    page.get_by_role("button", name="Delete status page").click()
    assert page.locator("[role=status]").inner_text() == "Deleted utm."
    assert svc.list_pages() == []
    assert httpx.get(live.url + "/status/utm").status_code == 404


def test_refusals_are_explained_with_the_form_kept(page, live, runtime, monitors):
    svc = runtime.service(MonitorService)
    svc.create_page({"slug": "taken", "title": "Taken", "monitors": []})
    page.goto(live.url + "/status-pages/edit")
    page.get_by_label("Address (slug)").fill("taken")
    page.get_by_label("Title").fill("Second")
    page.get_by_role("checkbox", name="db").check()
    page.get_by_role("button", name="Create").click()
    assert "Not saved" in page.locator("[role=alert]").inner_text()
    assert page.get_by_label("Title").input_value() == "Second" and page.get_by_role("checkbox", name="db").is_checked()
    page.goto(live.url + "/status-pages/edit?existing=nope")
    assert "does not exist" in page.locator("[role=alert]").inner_text()


def test_status_page_forms_need_the_csrf_token(live, monitors):
    r = httpx.post(live.url + "/status-pages-action", data={"action": "save", "slug": "x", "title": "x"})
    assert r.status_code == 403
    r = httpx.post(live.url + "/status-pages/preview", data={"slug": "x", "title": "x"})
    assert r.status_code == 403


BACKGROUND = {"dark": "rgb(15, 20, 25)", "light": "rgb(255, 255, 255)"}


def test_the_public_page_honours_the_consoles_theme(browser, live, runtime, monitors):
    """The theme cookie or ?theme= picks the public page's colours too, in the HTML itself (no flash);
    without either it follows the system."""
    runtime.service(MonitorService).create_page({"slug": "utm", "title": "UTM", "monitors": [monitors[0]["id"]]})
    body = "getComputedStyle(document.body).backgroundColor"
    for system in ("dark", "light"):
        ctx = browser.new_context(color_scheme=system)
        page = ctx.new_page()
        try:
            r = page.goto(live.url + "/status/utm")
            assert 'data-theme="system"' in r.text() and page.evaluate(body) == BACKGROUND[system]
            other = "light" if system == "dark" else "dark"
            r = page.goto(live.url + f"/status/utm?theme={other}")
            assert f'data-theme="{other}"' in r.text() and page.evaluate(body) == BACKGROUND[other]
            assert r.headers["cache-control"].startswith("private") and r.headers["vary"] == "Cookie"
            r = page.goto(live.url + "/status/utm")  # remembered in the console's cookie
            assert f'data-theme="{other}"' in r.text() and page.evaluate(body) == BACKGROUND[other]
            assert r.headers["cache-control"] == "public, max-age=30"
            page.goto(live.url + "/alarms")  # the console shares the choice
            assert page.locator("html").get_attribute("data-theme") == other
        finally:
            ctx.close()

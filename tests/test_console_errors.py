"""A brand-new user's walk in headless Chromium: every page of the navigation answers on a fresh
server with nothing failing to load, and a failed page is an HTML page with the message and the
navigation for a browser, while programs keep the REST error JSON."""

from __future__ import annotations

from urllib.parse import quote

import httpx

HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1">'


def test_every_navigation_link_of_a_fresh_server_loads_without_a_failed_request(page, live):
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: failed.append(m.text) if m.type == "error" else None)
    page.goto(live.url + "/")
    links = (
        page.get_by_role("navigation", name="Main")
        .locator("a")
        .evaluate_all("els => els.map(e => e.getAttribute('href'))")
    )
    assert len(links) >= 10
    for href in links:
        resp = page.goto(live.url + href)
        assert resp is not None and resp.status == 200, (href, resp and resp.status)
    assert failed == []  # the icon too: no page asks for a /favicon.ico that is not there


def test_an_unknown_address_is_a_page_for_a_browser_and_json_for_a_program(page, live):
    resp = page.goto(live.url + "/alarms-typo/" + quote(HOSTILE))
    assert resp.status == 404 and resp.headers["content-type"].startswith("text/html")
    assert page.locator("h1").inner_text().startswith("Not found")
    assert page.locator("[role=alert]").inner_text() == f"There is no page at /alarms-typo/{HOSTILE}."
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Alarms").count() == 1
    assert page.evaluate("document.body.dataset.pwned") is None
    # A form address opened as a link.
    resp = page.goto(live.url + "/alarms-create")
    assert resp.status == 405 and "/alarms-create does not take a GET request" in page.inner_text("main")
    # Programs, and the REST API even in a browser, keep the error JSON.
    r = httpx.get(live.url + "/alarms-typo")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound"
    resp = page.goto(live.url + "/api/v1/no-such-thing")
    assert resp.status == 404 and resp.headers["content-type"].startswith("application/json")


def test_a_refused_form_is_a_page_with_the_message(page, live):
    """A form the service refuses outright (here: no CSRF cookie) says why in a page."""
    resp = page.request.post(
        live.url + "/alarms-action", form={"name": "x", "action": "ack"}, headers={"accept": "text/html"}
    )
    assert resp.status == 403 and resp.headers["content-type"].startswith("text/html")
    assert "CSRF token is missing or stale" in resp.text()


def test_a_missing_status_page_is_a_public_page_without_the_console(page, live):
    resp = page.goto(live.url + "/status/" + quote("nope<b>"))
    assert resp.status == 404 and resp.headers["content-type"].startswith("text/html")
    assert page.locator("nav").count() == 0 and "nope<b>" in page.inner_text("main")
    assert httpx.get(live.url + "/status/nope.json").json()["error"]["code"] == "NotFound"

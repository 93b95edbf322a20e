"""The notifications page in headless Chromium against a live server and real HTTP receivers:
create a topic, subscribe (confirmation status, confirming), send a test and see each delivery's
outcome, filter the delivery log, replay a dead letter; CSRF and hostile endpoints."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from notify_helpers import Receiver
from rexwatch.services.notify import NotifyService


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(behaviour=None) -> Receiver:
        r = Receiver(behaviour) if behaviour else Receiver()
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def test_topic_subscriptions_send_test_and_replay_a_dead_letter(page, live, runtime, receivers):
    runtime.settings.notify_backoff_scale = 0.001
    svc = runtime.service(NotifyService)
    good = receivers()
    broken = receivers(lambda n, r: (404 if n == 1 else 200, 0.0))
    page.goto(live.url + "/")
    page.get_by_role("link", name="Notifications", exact=True).click()
    assert "No topics yet" in page.locator("main").inner_text()
    page.get_by_label("New topic").fill("utm-alerts")
    page.get_by_role("button", name="Create topic").click()
    assert page.locator("[role=status]").inner_text().endswith(":utm-alerts created.")

    for endpoint in (good.url, broken.url + "?team=<b>ops</b>"):
        page.get_by_label("Protocol").select_option("slack")
        page.get_by_label("Endpoint").fill(endpoint)
        page.get_by_role("button", name="Subscribe", exact=True).click()
        assert page.locator("[role=status]").inner_text().startswith("Subscribed")
    page.get_by_label("Protocol").select_option("https")
    page.get_by_label("Endpoint").fill("https://hooks.example.invalid/<b>ops</b>")
    page.get_by_role("button", name="Subscribe", exact=True).click()
    assert "pending confirmation" in page.locator("[role=status]").inner_text()
    subs = page.locator("table.subscriptions tr:has(td)")
    # Waiting checks where rows are counted: the status line comes first, and right after a click the
    # rest of the new page may still be parsing.
    expect(subs).to_have_count(3, timeout=60_000)
    pending = subs.filter(has_text="hooks.example.invalid")
    assert pending.locator(".pill").inner_text() == "pending"
    assert "<b>ops</b>" in pending.inner_text() or "****" in pending.inner_text()
    assert page.locator("table.topics tr:has(td) td:nth-child(3)").inner_text() == "1"  # one pending
    assert page.locator("main b").count() == 0  # the endpoint's markup is text

    page.get_by_label("Message to utm-alerts").fill("hello from the console")
    page.get_by_role("button", name="Send test to utm-alerts").click()
    assert page.locator("[role=status]").inner_text().endswith("published to 2 subscriptions.")
    expect(page.locator("table.test-deliveries tr:has(td)")).to_have_count(2, timeout=60_000)
    outcomes = page.locator("table.test-deliveries tr:has(td)").all_inner_texts()
    assert sum("\tdelivered\t" in o for o in outcomes) == 1 and sum("\tdead\t" in o for o in outcomes) == 1
    assert "hello from the console" in good.wait_for(1)[0].body.decode()

    page.get_by_label("Outcome").select_option("dead")
    page.get_by_role("button", name="Filter").click()
    dead = page.locator("table.deliveries tr:has(td)")
    expect(dead).to_have_count(1, timeout=60_000)
    assert "404" in dead.inner_text()
    dead.get_by_role("button", name="Replay").click()
    assert page.locator("[role=status]").inner_text() == "1 dead letter queued again."
    assert "status=dead" in page.url
    assert page.locator("table.deliveries tr:has(td)").count() == 0
    assert [d["protocol"] for d in svc.deliveries(status="pending") if d["protocol"] == "slack"] == ["slack"]

    pending = page.locator("table.subscriptions tr:has(td)").filter(has_text="hooks.example.invalid")
    pending.get_by_role("button", name="Confirm").click()
    assert page.locator("[role=status]").inner_text() == "Subscription confirmed."
    assert page.locator("table.topics tr:has(td) td:nth-child(2)").inner_text() == "3"


def test_bad_input_is_explained_and_posts_need_csrf(page, live, runtime):
    page.goto(live.url + "/notifications")
    page.get_by_label("New topic").fill("bad name!")
    page.get_by_role("button", name="Create topic").click()
    assert "Invalid parameter" in page.locator("[role=alert]").inner_text()
    r = httpx.post(live.url + "/notifications-action", data={"action": "create-topic", "name": "x"})
    assert r.status_code == 403
    assert runtime.service(NotifyService).list_topics()[0] == []
    r = httpx.get(live.url + "/notifications", params={"status": "bogus", "topic": "<script>"})
    assert r.status_code == 400 and "<script>" not in r.text and "&lt;script&gt;" in r.text

"""The settings page in headless Chromium against a live server: API keys created with the secret
shown once (and working), revoked; log-group retention set and cleared; hostile key names, CSRF."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from rexwatch.services.logs import LogsService

HOSTILE = 'ci <img src=x onerror="document.body.dataset.pwned=1">'


def test_create_a_key_shown_once_then_revoke_it(page, live, runtime):
    page.goto(live.url + "/")
    page.get_by_role("link", name="Settings", exact=True).click()
    assert "No keys yet" in page.locator("main").inner_text()
    page.get_by_label("Key name").fill(HOSTILE)
    page.get_by_role("button", name="Create key").click()
    token = page.locator("#new-secret").inner_text().strip()
    assert token.startswith("rxw_")
    assert runtime.keys.verify_bearer(token) is not None  # the secret shown is the key
    # Waiting: the secret comes before the table, which may still be parsing right after the click.
    expect(page.locator("table.keys tr:has(td)")).to_have_count(1, timeout=60_000)
    assert HOSTILE in page.locator("table.keys").inner_text()
    assert page.locator("main img").count() == 0 and page.evaluate("document.body.dataset.pwned") is None

    page.goto(live.url + "/settings")  # shown once: never again
    assert page.locator("#new-secret").count() == 0 and token not in page.content()

    page.get_by_label("Kind").select_option("aws")
    page.get_by_label("Key name").fill("boto3")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-secret").inner_text()
    access_key = secret.split("aws_access_key_id = ")[1].split()[0]
    assert runtime.keys.aws_secret(access_key) == secret.split("aws_secret_access_key = ")[1].strip()

    page.goto(live.url + "/settings")
    page.get_by_role("button", name=f"Revoke {HOSTILE}").click()
    assert page.locator("[role=status]").inner_text().startswith(f"Key {HOSTILE} (")
    assert runtime.keys.verify_bearer(token) is None
    row = page.locator("table.keys tr", has_text=HOSTILE)
    assert "revoked" in row.inner_text() and row.get_by_role("button").count() == 0


def test_log_group_retention(page, live, runtime):
    logs = runtime.service(LogsService)
    for name in ("/aws/ecs/utm-api", "/aws/lambda/utm-worker"):
        logs.create_log_group(name)
    page.goto(live.url + "/settings?q=utm-api")
    assert page.locator("table.retention tr:has(td)").count() == 1
    page.get_by_label("Retention of /aws/ecs/utm-api", exact=True).select_option("14")
    page.get_by_role("button", name="Save retention of /aws/ecs/utm-api").click()
    assert page.locator("[role=status]").inner_text() == "/aws/ecs/utm-api: events are kept 14 days."
    assert "q=utm-api" in page.url
    assert logs.describe_log_group("/aws/ecs/utm-api").retention_days == 14
    assert page.get_by_label("Retention of /aws/ecs/utm-api", exact=True).input_value() == "14"
    page.get_by_label("Retention of /aws/ecs/utm-api", exact=True).select_option("never")
    page.get_by_role("button", name="Save retention of /aws/ecs/utm-api").click()
    assert logs.describe_log_group("/aws/ecs/utm-api").retention_days is None
    assert logs.describe_log_group("/aws/lambda/utm-worker").retention_days is None


def test_bad_retention_and_csrf(page, live, runtime):
    runtime.service(LogsService).create_log_group("g")
    page.goto(live.url + "/settings")
    csrf = page.locator("input[name=csrf]").first.input_value()
    r = page.request.post(live.url + "/settings-action",
                          form={"csrf": csrf, "action": "retention", "group": "g", "days": "2"})
    assert "problem=" in r.url
    page.goto(r.url)
    assert "2" in page.locator("[role=alert]").inner_text()
    assert runtime.service(LogsService).describe_log_group("g").retention_days is None
    assert httpx.post(live.url + "/settings-action", data={"action": "create-key", "name": "x"}).status_code == 403
    assert runtime.keys.list() == []


def test_with_auth_on_the_new_pages_and_forms_need_a_key(live, runtime):
    runtime.keys.create("existing")
    runtime.settings.auth = "on"
    for path in ("/metrics/explorer", "/monitors", "/monitors/1", "/notifications", "/settings"):
        r = httpx.get(live.url + path)
        assert r.status_code == 401, path
        assert "existing" not in r.text and "<table" not in r.text
    for path in ("/monitors-action", "/notifications-action", "/settings-action"):
        r = httpx.post(live.url + path, data={"action": "create-key", "name": "sneaky"})
        assert r.status_code == 401, path
    token = runtime.keys.create("console").token
    r = httpx.get(live.url + "/settings", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and "existing" in r.text
    assert [k.name for k in runtime.keys.list()] == ["existing", "console"]


def test_settings_need_an_admin_key_even_with_a_public_console(live, runtime):
    runtime.settings.auth = "on"
    runtime.settings.public = "ui,health"
    assert httpx.get(live.url + "/monitors").status_code == 200  # the console is open
    assert httpx.get(live.url + "/settings").status_code == 401  # key management is not
    user = runtime.keys.create("viewer", role="user").token
    r = httpx.get(live.url + "/settings", headers={"Authorization": f"Bearer {user}"})
    assert r.status_code == 403 and "<td>" not in r.text  # refused, with no key listed
    admin = runtime.keys.create("root").token
    r = httpx.get(live.url + "/settings", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200 and "viewer" in r.text and "<td>editor</td>" in r.text  # 'user' keys are editors


def test_effective_settings_are_shown_with_secrets_masked(page, live, runtime):
    from pydantic import SecretStr

    runtime.settings.secret_key = SecretStr("k3y-that-must-not-show")
    page.goto(live.url + "/settings")
    page.get_by_text("Show").first.click()
    table = page.locator("#effective")
    rows = {r.locator("td").nth(0).inner_text(): r.locator("td").nth(1).inner_text()
            for r in table.locator("tbody tr, tr:has(td)").all()}
    assert rows["secret_key"] == "********"
    assert rows["port"] == str(runtime.settings.port)
    assert "k3y-that-must-not-show" not in page.content()

"""Secret-bearing fields (subscription endpoints, monitor headers) are encrypted in the control store and
redacted in every read: REST, the CLI and the web UI. The raw database is read to prove it."""

from __future__ import annotations

import json
import sqlite3

from helpers import run_cli
from notify_helpers import Receiver, deliver_all
from rexwatch.services.monitors import MonitorService
from rexwatch.services.notify import NotifyService

HOOK_SECRET = "T000/B000/XXXXsecretXXXXhookpath"
BEARER = "Bearer eyJhbGciOi.super-secret-token"


def _raw(runtime, sql: str) -> list[tuple]:
    con = sqlite3.connect(runtime.settings.data_dir / "control.db")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_subscription_endpoints_are_sealed_redacted_and_still_delivered(runtime, client):
    rx = Receiver()
    try:
        svc = runtime.service(NotifyService)
        arn = svc.create_topic("utm-alerts")
        url = f"{rx.url}/{HOOK_SECRET}"
        sub = svc.subscribe(arn, "slack", url, return_arn=True)
        assert svc.subscribe(arn, "slack", url, return_arn=True) == sub  # found again by its keyed hash
        [(stored, digest)] = _raw(runtime, "SELECT endpoint, endpoint_hash FROM notify_subscriptions")
        assert stored.startswith("enc:") and HOOK_SECRET not in stored and "127.0.0.1" not in stored
        assert len(digest) == 64 and HOOK_SECRET not in digest
        svc.publish(arn, "hello")
        deliver_all(runtime)
        assert rx.requests and rx.requests[0].path.endswith(HOOK_SECRET)
        shown = [client.get("/api/v1/subscriptions").text, client.get("/api/v1/deliveries").text,
                 client.get(f"/api/v1/subscriptions/{sub}").text]
        assert all(HOOK_SECRET not in text for text in shown)
        assert all("****" in text for text in shown)
    finally:
        rx.close()


def test_endpoints_stored_in_plain_text_by_an_older_version_are_sealed(runtime):
    svc = runtime.service(NotifyService)
    arn = svc.create_topic("t")
    sub = svc.subscribe(arn, "slack", f"https://hooks.slack.com/services/{HOOK_SECRET}", return_arn=True)
    con = sqlite3.connect(runtime.settings.data_dir / "control.db")
    con.execute("UPDATE notify_subscriptions SET endpoint = ?, endpoint_hash = NULL",
                (f"https://hooks.slack.com/services/{HOOK_SECRET}",))
    con.commit()
    con.close()
    fresh = NotifyService(runtime)  # a server starting on the old store
    [(stored,)] = _raw(runtime, "SELECT endpoint FROM notify_subscriptions")
    assert stored.startswith("enc:") and HOOK_SECRET not in stored
    assert fresh.subscribe(arn, "slack", f"https://hooks.slack.com/services/{HOOK_SECRET}", return_arn=True) == sub


def test_monitor_headers_are_sealed_and_redacted_everywhere(runtime, live):
    svc = runtime.service(MonitorService)
    spec = {"name": "api", "url": "http://127.0.0.1:1/health", "interval": 60,
            "headers": {"Authorization": BEARER, "Accept": "application/json"}}
    m = svc.create(spec)
    [(config,)] = _raw(runtime, "SELECT config FROM monitors")
    stored = json.loads(config)["headers"]
    assert BEARER not in config and all(v.startswith("enc:") for v in stored.values())
    assert m["config"]["headers"] == {"Authorization": "****", "Accept": "****"}
    # The prober gets the real value; applying the same declaration again changes nothing.
    [probed] = svc.probe_config()["monitors"]
    assert probed["config"]["headers"]["Authorization"] == BEARER
    assert svc.apply([spec])["unchanged"] == ["api"]
    # Changing another setting keeps the header.
    svc.update("api", {"interval": 120})
    assert svc.probe_config()["monitors"][0]["config"]["headers"]["Authorization"] == BEARER
    import httpx

    with httpx.Client(base_url=live.url) as http:
        for path in ("/api/v1/monitors", "/api/v1/monitors/api", "/"):
            assert BEARER not in http.get(path).text, path
    for args in (("monitors", "list"), ("monitors", "get", "api")):
        out = run_cli("--endpoint", live.url, "--output", "json", *args)
        assert out.returncode == 0 and BEARER not in out.stdout and "****" in out.stdout


def test_control_store_files_are_private(runtime):
    import os
    import stat

    runtime.service(NotifyService).create_topic("t")  # something written: the WAL exists
    data = runtime.settings.data_dir
    for name in ("control.db", "control.db-wal", "secret.key"):
        if (data / name).exists():
            assert stat.S_IMODE(os.stat(data / name).st_mode) == 0o600, name
    assert (data / "control.db").exists()

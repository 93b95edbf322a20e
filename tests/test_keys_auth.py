from __future__ import annotations

import json

from fastapi.testclient import TestClient

from helpers import run_cli
from rexwatch.api.app import create_app


def test_keys_cli_create_list_revoke(tmp_path):
    d = str(tmp_path / "data")
    r = run_cli("--output", "json", "keys", "create", "--name", "ci", "--data-dir", d)
    assert r.returncode == 0, r.stderr
    created = json.loads(r.stdout)
    assert created["token"].startswith("rxw_")
    listed = json.loads(run_cli("--output", "json", "keys", "list", "--data-dir", d).stdout)
    assert [k["name"] for k in listed] == ["ci"]
    # The secret is never listed again.
    assert created["token"] not in json.dumps(listed)
    r = run_cli("keys", "revoke", "ci", "--data-dir", d)
    assert r.returncode == 0 and "Revoked" in r.stdout
    assert json.loads(run_cli("--output", "json", "keys", "list", "--data-dir", d).stdout) == []
    r = run_cli("keys", "revoke", "ci", "--data-dir", d)
    assert r.returncode == 1 and "no active key" in r.stderr


def test_keys_are_stored_hashed(runtime):
    new = runtime.keys.create("x")
    with runtime.control.connect() as conn:
        dump = [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM api_keys")]
    assert new.token not in repr(dump)


def test_aws_keys_secret_encrypted_at_rest(runtime):
    new = runtime.keys.create("boto", aws=True)
    assert new.access_key_id.startswith("RXWK") and len(new.access_key_id) == 20
    with runtime.control.connect() as conn:
        dump = repr([tuple(r) for r in conn.exec_driver_sql("SELECT * FROM api_keys")])
    assert new.secret_access_key not in dump
    assert runtime.keys.aws_secret(new.access_key_id) == new.secret_access_key


def test_auth_on_requires_bearer_key(runtime):
    runtime.settings.auth = "on"
    key = runtime.keys.create("api").token
    other = runtime.keys.create("other")
    with TestClient(create_app(runtime, run_workers=False)) as c:
        missing = c.get("/api/v1/info")
        wrong = c.get("/api/v1/info", headers={"Authorization": "Bearer rxw_deadbeef_nope"})
        garbage = c.get("/api/v1/info", headers={"Authorization": "Basic abc"})
        for r in (missing, wrong, garbage):
            assert r.status_code == 401
            assert r.json()["error"]["code"] == "Unauthorized"
        # Same message whatever was wrong: no hint about which keys exist.
        assert missing.json() == wrong.json() == garbage.json()
        ok = c.get("/api/v1/info", headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200 and ok.json()["auth_enabled"] is True
        # Health and metrics stay open for load balancers and scrapers.
        assert c.get("/health").status_code == 200
        runtime.keys.revoke(str(other.info.id))
        runtime.keys.revoke("api")
        assert c.get("/api/v1/info", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_auth_off_on_loopback_by_default(client):
    assert client.get("/api/v1/info").status_code == 200

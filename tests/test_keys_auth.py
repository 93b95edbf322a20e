from __future__ import annotations

import json

import httpx
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


def test_only_admin_keys_manage_keys(runtime, client):
    runtime.settings.auth = "on"
    admin = {"Authorization": f"Bearer {runtime.keys.create('root').token}"}
    made = client.post("/api/v1/keys", json={"name": "app"}, headers=admin)
    assert made.status_code == 201 and made.json()["role"] == "editor"
    user = {"Authorization": f"Bearer {made.json()['token']}"}
    # A user key works everywhere else...
    assert client.get("/api/v1/info", headers=user).status_code == 200
    # ...but cannot mint, list or revoke keys, its own included.
    for method, path, body in [("POST", "/api/v1/keys", {"name": "more", "role": "admin"}),
                               ("GET", "/api/v1/keys", None), ("DELETE", f"/api/v1/keys/{made.json()['id']}", None)]:
        r = client.request(method, path, json=body, headers=user)
        assert r.status_code == 403 and r.json()["error"]["code"] == "Forbidden", (method, path)
    assert client.delete(f"/api/v1/keys/{made.json()['id']}", headers=admin).status_code == 200
    assert client.get("/api/v1/info", headers=user).status_code == 401
    second = client.post("/api/v1/keys", json={"name": "deputy", "role": "admin"}, headers=admin).json()
    assert second["role"] == "admin"
    assert client.get("/api/v1/keys", headers={"Authorization": f"Bearer {second['token']}"}).status_code == 200


def test_last_used_at_is_recorded_once_a_minute(runtime, live):
    runtime.settings.auth = "on"
    bearer = runtime.keys.create("cli")
    aws = runtime.keys.create("boto", aws=True)
    used = {k.name: k.last_used_at for k in runtime.keys.list()}
    assert used == {"cli": None, "boto": None}

    assert httpx.get(live.url + "/api/v1/info", headers={"Authorization": f"Bearer {bearer.token}"}).status_code == 200
    c = live.boto3_client("logs", aws_access_key_id=aws.access_key_id, aws_secret_access_key=aws.secret_access_key)
    c.describe_log_groups()
    first = {k.name: k.last_used_at for k in runtime.keys.list()}
    assert first["cli"] is not None and first["boto"] is not None
    # Further use within the minute does not write again.
    httpx.get(live.url + "/api/v1/info", headers={"Authorization": f"Bearer {bearer.token}"})
    c.describe_log_groups()
    assert {k.name: k.last_used_at for k in runtime.keys.list()} == first


def test_store_files_are_private(tmp_path):
    import os
    import stat

    from rexwatch.server.run import check_data_dir
    from rexwatch.settings import load_settings
    from rexwatch.stores.control import connect_control, upgrade

    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "control.db").touch(mode=0o644)  # made by an older version
    settings = load_settings(data_dir=data)
    check_data_dir(settings)
    engine = connect_control(settings.effective_control_url)
    upgrade(engine)
    engine.dispose()
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(data / "control.db").st_mode) == 0o600
    fresh = tmp_path / "fresh.db"
    connect_control(f"sqlite:///{fresh}").dispose()
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o600

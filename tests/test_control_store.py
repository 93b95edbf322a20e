"""The control store works the same on SQLite and the real PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

from rexwatch.secrets import SecretBox
from rexwatch.services.keys import KeyService
from rexwatch.stores.control import connect_control, upgrade


def test_migrations_idempotent_and_keys_roundtrip(control_url, tmp_path):
    engine = connect_control(control_url)
    upgrade(engine)
    upgrade(engine)  # a second run changes nothing and does not fail
    tables = set(inspect(engine).get_table_names())
    assert {"api_keys", "leases", "alembic_version"} <= tables
    svc = KeyService(engine, SecretBox.from_settings("", tmp_path))
    new = svc.create("deploy")
    aws = svc.create("boto", aws=True)
    assert svc.verify_bearer(new.token).name == "deploy"
    assert svc.verify_bearer(new.token + "x") is None
    assert svc.aws_secret(aws.access_key_id) == aws.secret_access_key
    svc.revoke("deploy")
    assert svc.verify_bearer(new.token) is None
    assert [k.name for k in svc.list()] == ["boto"]
    engine.dispose()


def test_secret_box_key_file_is_private(tmp_path):
    box = SecretBox.from_settings("", tmp_path)
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert SecretBox.from_settings("", tmp_path).decrypt(box.encrypt("s3cret")) == "s3cret"

from __future__ import annotations

import json

import pytest

from helpers import run_cli
from rexwatch.errors import ConfigError
from rexwatch.settings import load_settings


def test_env_beats_toml_beats_default(tmp_path, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text('port = 9200\nregion = "eu-west-1"\n')
    monkeypatch.setenv("REXWATCH_PORT", "9300")
    s = load_settings(cfg)
    assert s.port == 9300
    assert s.region == "eu-west-1"
    assert s.host == "127.0.0.1"
    assert load_settings(cfg, port=9400).port == 9400


def test_toml_with_rexwatch_table(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[rexwatch]\nsmtp_port = 2525\n')
    assert load_settings(cfg).smtp_port == 2525


@pytest.mark.parametrize(
    ("content", "expect"),
    [("port = 'abc'", "port"), ("nonsense = 1", "nonsense: unknown setting"), ("auth = 'maybe'", "auth")],
)
def test_bad_settings_name_the_field(tmp_path, content, expect):
    cfg = tmp_path / "c.toml"
    cfg.write_text(content)
    with pytest.raises(ConfigError, match=expect):
        load_settings(cfg)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_auth_auto_depends_on_bind_address():
    assert load_settings(host="127.0.0.1").auth_enabled is False
    assert load_settings(host="::1").auth_enabled is False
    assert load_settings(host="0.0.0.0").auth_enabled is True
    assert load_settings(host="127.0.0.1", auth="on").auth_enabled is True


def test_config_show_masks_secrets(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('smtp_password = "hunter2"\ncontrol_url = "postgresql+psycopg://u:pw@db/x"\n')
    r = run_cli("--config", str(cfg), "--output", "json", "config", "show")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["smtp_password"] == "********"
    assert "hunter2" not in r.stdout and ":pw@" not in r.stdout
    assert data["control_url"] == "postgresql+psycopg://u:********@db/x"

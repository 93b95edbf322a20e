"""``rexwatch setup aws`` and ``rexwatch env`` make the AWS CLI and boto3 work in one step."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import boto3
import httpx
import pytest

from helpers import run_cli
from rexwatch.cli.setup_cmd import PLACEHOLDER_KEY, read_section, write_section
from rexwatch.testing import LiveServer, make_runtime

pytestmark = pytest.mark.slow

AWS = str(Path(sys.executable).with_name("aws"))


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REXWATCH_"))}
    return {**env, "HOME": str(home), **extra}


def test_write_section_replaces_only_its_own_section(tmp_path):
    path = tmp_path / "config"
    path.write_text("# my settings\n[default]\nregion = eu-west-1\n\n[profile rexwatch]\nregion = old\n"
                    "stale = 1\n\n[profile prod]\nregion = us-west-2\n")
    write_section(path, "profile rexwatch", {"region": "us-east-1", "endpoint_url": "http://127.0.0.1:1"})
    text = path.read_text()
    assert text.startswith("# my settings\n[default]\nregion = eu-west-1\n")
    assert "[profile prod]\nregion = us-west-2" in text and "stale" not in text
    assert read_section(path, "profile rexwatch") == {"region": "us-east-1", "endpoint_url": "http://127.0.0.1:1"}
    write_section(path, "profile new", {"region": "x"})
    assert read_section(path, "profile new") == {"region": "x"} and read_section(path, "default")


def test_setup_aws_with_auth_off_makes_the_aws_cli_work(live, tmp_path):
    r = run_cli("--endpoint", live.url, "setup", "aws", env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "export AWS_PROFILE=rexwatch" in r.stdout and "checked" in r.stdout
    assert read_section(tmp_path / ".aws" / "config", "profile rexwatch")["endpoint_url"] == live.url
    creds = tmp_path / ".aws" / "credentials"
    assert read_section(creds, "rexwatch")["aws_access_key_id"] == PLACEHOLDER_KEY
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    # The AWS CLI with nothing but the profile: no --endpoint-url, region or key flags.
    out = subprocess.run([AWS, "logs", "create-log-group", "--log-group-name", "/from/aws-cli"], capture_output=True,
                         text=True, env=_env(tmp_path, AWS_PROFILE="rexwatch"), timeout=120)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([AWS, "logs", "describe-log-groups"], capture_output=True, text=True,
                         env=_env(tmp_path, AWS_PROFILE="rexwatch"), timeout=120)
    assert out.returncode == 0 and "/from/aws-cli" in out.stdout, out.stderr


def test_env_exports_work_for_the_aws_cli(live, tmp_path):
    r = run_cli("--endpoint", live.url, "env", env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    exports = dict(line.removeprefix("export ").split("=", 1) for line in r.stdout.splitlines())
    exports = {k: shlex.split(v)[0] for k, v in exports.items()}
    assert exports["AWS_ENDPOINT_URL"] == live.url and exports["AWS_DEFAULT_REGION"] == "us-east-1"
    out = subprocess.run(["bash", "-c", f'eval "$({sys.executable} -m rexwatch env)" && {AWS} logs describe-log-groups'],
                         capture_output=True, text=True, env=_env(tmp_path, REXWATCH_ENDPOINT=live.url), timeout=120)
    assert out.returncode == 0 and '"logGroups"' in out.stdout, out.stderr


@pytest.fixture
def auth_on(tmp_path, chdb_engine):
    rt = make_runtime(tmp_path / "data", chdb_engine, workers="none", auth="on")
    with LiveServer(rt, run_workers=False) as server:
        yield server, rt.keys.create("admin").token
    rt.close(close_stores=False)
    rt.telemetry.drop_database()
    rt.control.dispose()


def test_setup_aws_with_auth_on_creates_a_real_key(auth_on, tmp_path, monkeypatch):
    server, token = auth_on
    home = tmp_path / "home"
    home.mkdir()
    r = run_cli("--endpoint", server.url, "setup", "aws", env=_env(home))
    assert r.returncode == 1 and "API key" in r.stderr
    r = run_cli("--endpoint", server.url, "--api-key", token, "setup", "aws", env=_env(home))
    assert r.returncode == 0, r.stderr
    creds = home / ".aws" / "credentials"
    key = read_section(creds, "rexwatch")["aws_access_key_id"]
    assert key != PLACEHOLDER_KEY
    # boto3 signs with the new key, and the server (auth on) accepts it.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    logs = boto3.Session(profile_name="rexwatch").client("logs")
    logs.create_log_group(logGroupName="/signed")
    # Making the key was an audited change. The trail is for admins only: the new key does not list it,
    # the admin token reads the key's creation from it.
    assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == ["/signed"]
    trail = httpx.get(server.url + "/api/v1/audit", params={"since": "1h"},
                      headers={"Authorization": f"Bearer {token}"}).json()
    assert trail["log_group"] == "/rexwatch/audit"
    assert any(e.get("action") == "CREATE" and (e.get("after") or {}).get("name") == "aws-profile-rexwatch" for e in trail["events"])
    # Running it again keeps the key; --new-key makes another.
    assert run_cli("--endpoint", server.url, "--api-key", token, "setup", "aws", env=_env(home)).returncode == 0
    assert read_section(creds, "rexwatch")["aws_access_key_id"] == key
    assert run_cli("--endpoint", server.url, "--api-key", token, "setup", "aws", "--new-key",
                   env=_env(home)).returncode == 0
    assert read_section(creds, "rexwatch")["aws_access_key_id"] != key
    # `env` will not print a placeholder that the server would refuse.
    r = run_cli("--endpoint", server.url, "--api-key", token, "env", env=_env(home))
    assert r.returncode == 1 and "rexwatch setup aws" in r.stderr and r.stdout == ""

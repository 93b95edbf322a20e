"""``rexwatch setup aws`` and ``rexwatch env``: point the AWS CLI and boto3 at rexwatch.

The AWS tools need a region, an endpoint and some credentials before they send
anything. ``setup aws`` writes them as a named profile in the AWS config and
credentials files (only that profile's section is touched); ``env`` prints
them as shell exports for ``eval "$(rexwatch env)"``. With auth off any key
works, so a fixed placeholder is written; with auth on a real access key is
created over the API.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import click

from rexwatch.cli.context import CliContext, fail, pass_ctx

# Written while the server runs with auth off, where the AWS door accepts any key.
PLACEHOLDER_KEY = "rexwatch-auth-off"
PLACEHOLDER_SECRET = "any-secret-works-while-auth-is-off"


def _server_info(obj: CliContext) -> dict[str, Any]:
    return obj.client().get("info")


def _env_key() -> tuple[str, str] | None:
    key, secret = os.environ.get("REXWATCH_AWS_ACCESS_KEY_ID"), os.environ.get("REXWATCH_AWS_SECRET_ACCESS_KEY")
    return (key, secret) if key and secret else None


def _create_key(obj: CliContext, name: str) -> tuple[str, str]:
    if not obj.api_key:
        fail("the server has auth on: creating an AWS key needs an API key (--api-key or REXWATCH_API_KEY; "
             "make one on the server with 'rexwatch keys create --name NAME')")
    new = obj.client().post("keys", json={"name": name, "aws": True})
    return new["access_key_id"], new["secret_access_key"]


# ------------------------------------------------------------------ AWS shared files


def aws_config_path() -> Path:
    return Path(os.environ.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config").expanduser()


def aws_credentials_path() -> Path:
    return Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials").expanduser()


def read_section(path: Path, header: str) -> dict[str, str]:
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    inside = False
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped == f"[{header}]"
        elif inside and "=" in stripped and not stripped.startswith(("#", ";")):
            k, _, v = stripped.partition("=")
            out[k.strip()] = v.strip()
    return out


def write_section(path: Path, header: str, values: dict[str, str], private: bool = False) -> None:
    """Replace (or append) one ``[header]`` section, keeping every other line of the file as it is."""
    lines = path.read_text().splitlines() if path.exists() else []
    body = [f"[{header}]", *(f"{k} = {v}" for k, v in values.items())]
    start = next((i for i, ln in enumerate(lines) if ln.strip() == f"[{header}]"), None)
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += body
    else:
        end = next((i for i in range(start + 1, len(lines)) if re.match(r"\s*\[", lines[i])), len(lines))
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1  # keep the blank line before the next section
        lines[start:end] = body
    path.parent.mkdir(parents=True, exist_ok=True)
    if private:
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------ commands


@click.group()
def setup() -> None:
    """Set up other tools to talk to this rexwatch server."""


@setup.command("aws")
@click.option("--profile", default="rexwatch", show_default=True, help="AWS profile to write.")
@click.option("--new-key", is_flag=True, help="With auth on, create a fresh access key even if the profile has one.")
@pass_ctx
def setup_aws(obj: CliContext, profile: str, new_key: bool) -> None:
    """Write an AWS CLI / boto3 profile with this server's endpoint, region and a key that works here."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", profile):
        fail(f"--profile {profile!r}: use letters, digits, '_', '-' and '.'", 2)
    info = _server_info(obj)
    config, creds = aws_config_path(), aws_credentials_path()
    existing = read_section(creds, profile)
    if _env_key():
        key, secret = _env_key()  # type: ignore[misc]
        how = "from REXWATCH_AWS_ACCESS_KEY_ID"
    elif not info["auth_enabled"]:
        key, secret = PLACEHOLDER_KEY, PLACEHOLDER_SECRET
        how = "a placeholder: auth is off, so any key is accepted"
    elif existing.get("aws_access_key_id") not in (None, PLACEHOLDER_KEY) and not new_key:
        key, secret = existing["aws_access_key_id"], existing.get("aws_secret_access_key", "")
        how = "kept from the profile (--new-key makes a fresh one)"
    else:
        key, secret = _create_key(obj, f"aws-profile-{profile}")
        how = "a new access key created on the server"
    header = "default" if profile == "default" else f"profile {profile}"
    write_section(config, header, {"region": info["region"], "endpoint_url": obj.endpoint, "output": "json"})
    write_section(creds, profile, {"aws_access_key_id": key, "aws_secret_access_key": secret}, private=True)
    click.echo(f"wrote AWS profile '{profile}' for {obj.endpoint}:")
    click.echo(f"  {config}: region {info['region']}, endpoint_url {obj.endpoint}")
    click.echo(f"  {creds}: access key {key} ({how})")
    _check_profile(profile)
    click.echo("use it in this shell (the AWS CLI and boto3 read it):")
    click.echo(f"  export AWS_PROFILE={profile}")
    click.echo("  aws logs describe-log-groups")


def _check_profile(profile: str) -> None:
    """Make one call with the profile, as the AWS tools will, so a broken setup shows now."""
    try:
        import botocore.session
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        return
    try:
        client = botocore.session.Session(profile=profile).create_client("logs")
        client.describe_log_groups(limit=1)
    except (BotoCoreError, ClientError) as e:
        fail(f"the profile was written, but a call with it failed: {e}")
    click.echo(f"  checked: a DescribeLogGroups call with profile '{profile}' succeeded")


@click.command("env")
@click.option("--new-key", is_flag=True, help="With auth on, create an access key for these variables.")
@pass_ctx
def env(obj: CliContext, new_key: bool) -> None:
    """Print shell exports that point the AWS CLI and boto3 here: eval "$(rexwatch env)"."""
    info = _server_info(obj)
    if _env_key():
        key, secret = _env_key()  # type: ignore[misc]
    elif not info["auth_enabled"]:
        key, secret = PLACEHOLDER_KEY, PLACEHOLDER_SECRET
    elif new_key:
        key, secret = _create_key(obj, "aws-env")
    else:
        fail("the server has auth on: run 'rexwatch setup aws' once (it writes a profile with a real key), "
             "or 'rexwatch env --new-key', or set REXWATCH_AWS_ACCESS_KEY_ID and REXWATCH_AWS_SECRET_ACCESS_KEY")
    values = {
        "AWS_ENDPOINT_URL": obj.endpoint,
        "AWS_DEFAULT_REGION": info["region"],
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "REXWATCH_ENDPOINT": obj.endpoint,
    }
    for k, v in values.items():
        click.echo(f"export {k}={shlex.quote(v)}")
    if info["auth_enabled"] and obj.api_key:
        click.echo(f"export REXWATCH_API_KEY={shlex.quote(obj.api_key)}")

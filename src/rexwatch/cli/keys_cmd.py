"""``rexwatch keys``: API keys, managed directly in the control store.

Key management is an administrator's job on the server's machine (like
creating a database superuser), so it reads the same settings as the server
instead of needing a key to make the first key.
"""

from __future__ import annotations

import click

from rexwatch.cli.context import CliContext, fail, pass_ctx
from rexwatch.cli.output import print_json, print_table, want_json
from rexwatch.errors import ConfigError, RexwatchError


def _service(obj: CliContext, data_dir: str | None):
    from rexwatch.secrets import SecretBox
    from rexwatch.server.run import private_files
    from rexwatch.services.keys import KeyService
    from rexwatch.settings import load_settings
    from rexwatch.stores.control import connect_control, upgrade

    try:
        settings = load_settings(obj.config, data_dir=data_dir)
        private_files()
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = connect_control(settings.effective_control_url)
        upgrade(engine)
        return KeyService(
            engine, SecretBox.from_settings(settings.secret_key.get_secret_value(), settings.data_dir)
        )
    except ConfigError as e:
        fail(str(e))
    except OSError as e:
        fail(f"data dir is not usable: {e}")


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Data dir of the server (default: the server's default).",
)


@click.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--name", required=True, help="What the key is for.")
@click.option("--aws", is_flag=True, help="Create an AWS access key id + secret for SigV4 clients.")
@click.option("--role", type=click.Choice(["admin", "user"]), default="admin", show_default=True,
              help="admin keys may also create and revoke keys over the API; user keys may not.")
@data_dir_option
@pass_ctx
def create(obj: CliContext, name: str, aws: bool, role: str, data_dir: str | None) -> None:
    """Create a key and print it once."""
    try:
        new = _service(obj, data_dir).create(name, aws=aws, role=role)
    except RexwatchError as e:
        fail(e.message)
    if want_json(obj.output):
        print_json(
            {
                "id": new.info.id,
                "name": new.info.name,
                "kind": new.info.kind,
                "role": new.info.role,
                "token": new.token,
                "access_key_id": new.access_key_id,
                "secret_access_key": new.secret_access_key,
            }
        )
        return
    click.echo(f"Created key {new.info.id} ({name}). It is shown only now; store it safely.")
    if aws:
        click.echo(f"AWS_ACCESS_KEY_ID={new.access_key_id}")
        click.echo(f"AWS_SECRET_ACCESS_KEY={new.secret_access_key}")
    else:
        click.echo(f"REXWATCH_API_KEY={new.token}")


@keys.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@data_dir_option
@pass_ctx
def list_(obj: CliContext, include_revoked: bool, data_dir: str | None) -> None:
    """List keys (never their secrets)."""
    rows = [k.__dict__ for k in _service(obj, data_dir).list(include_revoked)]
    print_table(
        rows, ["id", "name", "kind", "role", "prefix", "created_at", "last_used_at", "revoked_at"], obj.output, title="API keys"
    )


@keys.command("revoke")
@click.argument("key")
@data_dir_option
@pass_ctx
def revoke(obj: CliContext, key: str, data_dir: str | None) -> None:
    """Revoke a key by id, prefix, access key id or unique name."""
    try:
        info = _service(obj, data_dir).revoke(key)
    except RexwatchError as e:
        fail(e.message)
    click.echo(f"Revoked key {info.id} ({info.name}).")

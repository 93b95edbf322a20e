"""``rexwatch keys``: API keys, managed directly in the control store.

Key management is an administrator's job on the server's machine (like
creating a database superuser), so it reads the same settings as the server
instead of needing a key to make the first key.
"""

from __future__ import annotations

import click

from rexwatch.cli.context import CliContext, fail, open_local_control, pass_ctx
from rexwatch.cli.output import print_json, print_table, want_json
from rexwatch.errors import RexwatchError


def _service(obj: CliContext, data_dir: str | None):
    from rexwatch.secrets import SecretBox
    from rexwatch.services.keys import KeyService

    engine, settings = open_local_control(obj, data_dir)
    return KeyService(engine, SecretBox.from_settings(settings.secret_key.get_secret_value(), settings.data_dir))


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
@click.option("--role", type=click.Choice(["viewer", "editor", "admin", "user"]), default="admin", show_default=True,
              help="viewer reads, editor also changes alarms and the like, admin also manages users, keys, "
              "retention and deletion ('user' is the old name of editor).")
@click.option("--scope", type=click.Choice(["ingest", "read"]), default=None,
              help="Narrow the role: ingest (agents, SDKs: send telemetry only) or read (dashboards: read only).")
@click.option("--user", "owner", default=None, help="The user the key belongs to (default: a service account "
              "named after the key). Its role may not exceed the user's.")
@data_dir_option
@pass_ctx
def create(obj: CliContext, name: str, aws: bool, role: str, scope: str | None, owner: str | None,
           data_dir: str | None) -> None:
    """Create a key and print it once."""
    svc = _service(obj, data_dir)
    try:
        user_id = None
        if owner:
            from types import SimpleNamespace

            from rexwatch.services.access import ROLES, check_role
            from rexwatch.services.users import UserService

            user = UserService(SimpleNamespace(control=svc.engine, settings=None)).get(owner)
            if ROLES.index(check_role(role)) > ROLES.index(user.role):
                fail(f"user {owner!r} has role {user.role!r}: their keys cannot have role {role!r}")
            user_id = user.id
        new = svc.create(name, aws=aws, role=role, scope=scope, user_id=user_id)
    except RexwatchError as e:
        fail(e.message)
    if want_json(obj.output):
        print_json(
            {
                "id": new.info.id,
                "name": new.info.name,
                "kind": new.info.kind,
                "role": new.info.role,
                "scope": new.info.scope,
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
        rows, ["id", "name", "kind", "role", "scope", "prefix", "created_at", "last_used_at", "revoked_at"], obj.output, title="API keys"
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

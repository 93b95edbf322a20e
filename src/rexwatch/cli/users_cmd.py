"""``rexwatch users``: console accounts, managed directly in the control store.

Like ``rexwatch keys``, this is an administrator's job on the server's machine, so it needs no
key: it reads the same settings as the server. Over the network, ``/api/v1/users`` does the same
with an admin key, and its changes go to the audit trail.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import click

from rexwatch.cli.context import CliContext, fail, open_local_control, pass_ctx
from rexwatch.cli.keys_cmd import data_dir_option
from rexwatch.cli.output import print_json, print_table, want_json
from rexwatch.errors import RexwatchError

ROLE_CHOICE = click.Choice(["viewer", "editor", "admin"])


def _service(obj: CliContext, data_dir: str | None):
    from rexwatch.services.users import UserService

    engine, settings = open_local_control(obj, data_dir)
    # Account management needs only the control store, not the whole runtime.
    return UserService(SimpleNamespace(control=engine, settings=settings))


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group()
def users() -> None:
    """Create, list and change console users."""


@users.command("create")
@click.argument("username")
@click.option("--admin", "make_admin", is_flag=True, help="Same as --role admin.")
@click.option("--role", type=ROLE_CHOICE, default="viewer", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@data_dir_option
@pass_ctx
def create(obj: CliContext, username: str, make_admin: bool, role: str, password_stdin: bool,
           data_dir: str | None) -> None:
    """Create a user (asks for the password unless --password-stdin)."""
    svc = _service(obj, data_dir)
    try:
        user = svc.create(username, _password(password_stdin), "admin" if make_admin else role)
    except RexwatchError as e:
        fail(e.message)
    if want_json(obj.output):
        print_json(user.view())
        return
    click.echo(f"Created user {user.username} ({user.role}).")


@users.command("list")
@data_dir_option
@pass_ctx
def list_(obj: CliContext, data_dir: str | None) -> None:
    """List users and their roles."""
    rows = [u.view() for u in _service(obj, data_dir).list()]
    print_table(rows, ["id", "username", "role", "created_at", "locked"], obj.output, title="Users")


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=ROLE_CHOICE)
@data_dir_option
@pass_ctx
def set_role(obj: CliContext, username: str, role: str, data_dir: str | None) -> None:
    """Change a user's role (their sessions end, so it applies at once)."""
    try:
        before, after = _service(obj, data_dir).set_role(username, role)
    except RexwatchError as e:
        fail(e.message)
    click.echo(f"{after.username}: {before.role} -> {after.role}")


@users.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of stdin.")
@data_dir_option
@pass_ctx
def reset_password(obj: CliContext, username: str, password_stdin: bool, data_dir: str | None) -> None:
    """Set a new password, unlock the account and end its sessions."""
    try:
        user = _service(obj, data_dir).reset_password(username, _password(password_stdin))
    except RexwatchError as e:
        fail(e.message)
    click.echo(f"Password of {user.username} reset; its sessions have ended.")


@users.command("delete")
@click.argument("username")
@data_dir_option
@pass_ctx
def delete(obj: CliContext, username: str, data_dir: str | None) -> None:
    """Delete a user, end its sessions and revoke its API keys."""
    try:
        user = _service(obj, data_dir).delete(username)
    except RexwatchError as e:
        fail(e.message)
    click.echo(f"Deleted user {user.username}.")


def _resets(obj: CliContext, data_dir: str | None):
    from rexwatch.services.recovery import PasswordResets

    svc = _service(obj, data_dir)
    return PasswordResets(svc.runtime)


@users.command("set-email")
@click.argument("username")
@click.argument("email", required=False)
@data_dir_option
@pass_ctx
def set_email(obj: CliContext, username: str, email: str | None, data_dir: str | None) -> None:
    """Set the address reset links are mailed to (no EMAIL: remove it)."""
    try:
        email = _resets(obj, data_dir).set_email(username, email)
    except RexwatchError as e:
        fail(e.message)
    click.echo(f"{username}: {email or 'no email address'}")


@users.command("reset-link")
@click.argument("username")
@click.option("--send", is_flag=True, help="Mail the link to the user's address instead of printing it.")
@data_dir_option
@pass_ctx
def reset_link(obj: CliContext, username: str, send: bool, data_dir: str | None) -> None:
    """A single-use link (30 minutes) for the user to choose a new password."""
    resets = _resets(obj, data_dir)
    try:
        if send:
            click.echo(f"Reset link for {username} sent: {resets.mail_link(username)}")
            return
        link = resets.issue(username)
    except RexwatchError as e:
        fail(e.message)
    if want_json(obj.output):
        print_json(link.view())
        return
    click.echo(link.url)


@users.command("reset-2fa")
@click.argument("username")
@data_dir_option
@pass_ctx
def reset_2fa(obj: CliContext, username: str, data_dir: str | None) -> None:
    """Turn a user's second factor off (lost authenticator and recovery codes)."""
    from rexwatch.services.totp import TotpService

    try:
        was_on = TotpService(_service(obj, data_dir).runtime).reset(username)
    except RexwatchError as e:
        fail(e.message)
    click.echo(f"Second factor of {username} {'turned off' if was_on else 'was not on'}; "
               "the next sign-in needs only the password.")

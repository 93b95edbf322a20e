"""``rexwatch teams``: teams, their members and what they own, managed in the control store.

Like ``rexwatch users``, this is an administrator's job on the server's machine and needs no key.
Over the network, ``/api/v1/teams`` does the same with an admin key or session.
"""

from __future__ import annotations

from types import SimpleNamespace

import click

from rexwatch.cli.context import CliContext, fail, open_local_control, pass_ctx, run_or_fail
from rexwatch.cli.keys_cmd import data_dir_option
from rexwatch.cli.output import print_json, print_table, want_json


def _service(obj: CliContext, data_dir: str | None):
    from rexwatch.services.teams import TeamService

    engine, settings = open_local_control(obj, data_dir)
    return TeamService(SimpleNamespace(control=engine, settings=settings))


@click.group()
def teams() -> None:
    """Create teams, add users to them, and give them log groups and alarms."""


@teams.command("create")
@click.argument("name")
@data_dir_option
@pass_ctx
def create(obj: CliContext, name: str, data_dir: str | None) -> None:
    """Create a team."""
    team = run_or_fail(_service(obj, data_dir).create, name)
    if want_json(obj.output):
        print_json(team.view())
        return
    click.echo(f"Created team {team.name}.")


@teams.command("list")
@data_dir_option
@pass_ctx
def list_(obj: CliContext, data_dir: str | None) -> None:
    """List teams with their members and how many log groups and alarms they own."""
    rows = [{**t.view(), "members": ", ".join(t.members)} if not want_json(obj.output) else t.view()
            for t in _service(obj, data_dir).list()]
    print_table(rows, ["name", "members", "log_groups", "alarms", "created_at"], obj.output, title="Teams")


@teams.command("delete")
@click.argument("name")
@data_dir_option
@pass_ctx
def delete(obj: CliContext, name: str, data_dir: str | None) -> None:
    """Delete a team: what it owned becomes visible to everyone."""
    team = run_or_fail(_service(obj, data_dir).delete, name)
    click.echo(f"Deleted team {team.name}; its {team.log_groups} log groups and {team.alarms} alarms "
               "belong to no team now.")


@teams.command("add-member")
@click.argument("team")
@click.argument("username")
@data_dir_option
@pass_ctx
def add_member(obj: CliContext, team: str, username: str, data_dir: str | None) -> None:
    """Add a user to a team (its keys follow)."""
    added = run_or_fail(_service(obj, data_dir).add_member, team, username)
    click.echo(f"{username} is {'now' if added else 'already'} a member of {team}.")


@teams.command("remove-member")
@click.argument("team")
@click.argument("username")
@data_dir_option
@pass_ctx
def remove_member(obj: CliContext, team: str, username: str, data_dir: str | None) -> None:
    """Take a user out of a team."""
    run_or_fail(_service(obj, data_dir).remove_member, team, username)
    click.echo(f"{username} is no longer a member of {team}.")


@teams.command("assign")
@click.option("--log-group", "log_group", help="The log group to give.")
@click.option("--alarm", help="The alarm (metric, composite or log alarm) to give.")
@click.option("--team", help="The team to give it to.")
@click.option("--none", "to_none", is_flag=True, help="Give it to no team: every user sees it.")
@data_dir_option
@pass_ctx
def assign(obj: CliContext, log_group: str | None, alarm: str | None, team: str | None, to_none: bool,
           data_dir: str | None) -> None:
    """Give a log group or an alarm to a team (or, with --none, to no team)."""
    if (log_group is None) == (alarm is None):
        fail("name exactly one of --log-group or --alarm")
    if (team is None) == (not to_none):
        fail("name a --team, or give --none")
    kind, name = ("log_group", log_group) if log_group is not None else ("alarm", alarm)
    run_or_fail(_service(obj, data_dir).assign, kind, name, team)
    what = "log group" if kind == "log_group" else "alarm"
    click.echo(f"{what} {name} belongs to {'team ' + team if team else 'no team'}.")

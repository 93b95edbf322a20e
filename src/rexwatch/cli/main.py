"""Entry point: ``rexwatch [--endpoint URL] [--api-key KEY] COMMAND``.

Command groups live in one module each and are listed in ``COMMANDS``;
adding a group is one line.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from rexwatch import __version__
from rexwatch.cli.context import CliContext, default_endpoint

# (module, attribute) of each top-level command or group.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("rexwatch.cli.server_cmd", "server"),
    ("rexwatch.cli.server_cmd", "worker"),
    ("rexwatch.cli.status_cmd", "status"),
    ("rexwatch.cli.setup_cmd", "setup"),
    ("rexwatch.cli.setup_cmd", "env"),
    ("rexwatch.cli.config_cmd", "config"),
    ("rexwatch.cli.keys_cmd", "keys"),
    ("rexwatch.cli.users_cmd", "users"),
    ("rexwatch.cli.teams_cmd", "teams"),
    ("rexwatch.cli.audit_cmd", "audit"),
    ("rexwatch.cli.logs_cmd", "logs"),
    ("rexwatch.cli.cloudwatch_cmd", "cloudwatch"),
    ("rexwatch.cli.sns_cmd", "sns"),
    ("rexwatch.cli.mail_cmd", "mail"),
    ("rexwatch.cli.monitors_cmd", "monitors"),
    ("rexwatch.cli.dashboards_cmd", "dashboards"),
    ("rexwatch.cli.target_groups_cmd", "target_groups"),
    ("rexwatch.cli.agent_cmd", "agent"),
    ("rexwatch.cli.agent_cmd", "rds"),
    ("rexwatch.cli.security_cmd", "security"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="rexwatch")
@click.option(
    "--endpoint",
    "--endpoint-url",
    "endpoint",
    envvar="REXWATCH_ENDPOINT",
    default=None,
    help="Server URL (default http://127.0.0.1:9099).",
)
@click.option(
    "--api-key",
    envvar="REXWATCH_API_KEY",
    default="",
    show_default=False,
    help="API key for a server with auth on.",
)
@click.option(
    "--output",
    type=click.Choice(["json", "table", "text"]),
    default=None,
    help="Output format (default: table in a terminal, JSON otherwise).",
)
@click.option(
    "--config",
    "config",
    envvar="REXWATCH_CONFIG",
    default=None,
    type=click.Path(dir_okay=False),
    help="TOML settings file.",
)
@click.pass_context
def cli(
    ctx: click.Context, endpoint: str | None, api_key: str, output: str | None, config: str | None
) -> None:
    """rexwatch: logs, metrics, alarms, notifications and uptime in one program."""
    ctx.obj = CliContext(endpoint or default_endpoint(), api_key, output, config, None)


def _needs_server(name: str, missing: str) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
                   add_help_option=False, help="(needs the server extra: pip install 'rexwatch[server]')")
    def needs_server() -> None:
        raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)

    return needs_server


def _register() -> None:
    for module, attr in COMMANDS:
        try:
            cli.add_command(getattr(importlib.import_module(module), attr))
        except ModuleNotFoundError as e:
            if e.name and e.name.startswith("rexwatch.cli."):
                continue  # a group whose module is not written yet is simply absent
            if not e.name or e.name.split(".")[0] == "rexwatch":
                raise
            cli.add_command(_needs_server(attr.replace("_", "-"), e.name))


_register()


# Options of the root group that take a value, to find the command words in argv.
_VALUE_OPTIONS = {"--endpoint", "--endpoint-url", "--api-key", "--output", "--config"}


def _command_words(argv: list[str]) -> str:
    words, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
            if len(words) == 2:
                break
    return " ".join(["rexwatch", *words])


def main() -> None:
    # Make `rexwatch` usable where stdout is a pipe with a narrow locale.
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    try:
        cli.main(prog_name="rexwatch")
    except KeyboardInterrupt:
        sys.exit(130)
    except ModuleNotFoundError as e:
        # The base install is the client; the server's libraries come with the extra.
        if not e.name or e.name.split(".")[0] == "rexwatch":
            raise
        click.echo(
            click.style("error: ", fg="red", bold=True)
            + f"'{_command_words(sys.argv[1:])}' needs the server's libraries (missing {e.name.split('.')[0]}): "
            "install rexwatch[server], e.g. pip install 'rexwatch[server]'",
            err=True,
        )
        sys.exit(1)

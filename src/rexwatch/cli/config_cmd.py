"""``rexwatch config show``."""

from __future__ import annotations

import click

from rexwatch.cli.context import CliContext, fail, pass_ctx
from rexwatch.cli.output import print_json, want_json
from rexwatch.errors import ConfigError


@click.group()
def config() -> None:
    """Inspect settings."""


@config.command("show")
@pass_ctx
def show(obj: CliContext) -> None:
    """Print the effective settings, secrets masked."""
    from rexwatch.settings import load_settings

    try:
        data = load_settings(obj.config).masked()
    except ConfigError as e:
        fail(str(e))
    if want_json(obj.output):
        print_json(data)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="rexwatch settings", header_style="bold cyan")
    table.add_column("setting")
    table.add_column("value")
    for k, v in data.items():
        table.add_row(k, str(v))
    Console().print(table)

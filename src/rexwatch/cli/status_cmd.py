"""``rexwatch status``: is the server up, and how is it configured."""

from __future__ import annotations

import click

from rexwatch.cli.context import CliContext, pass_ctx
from rexwatch.cli.output import print_json, want_json


@click.command()
@pass_ctx
def status(obj: CliContext) -> None:
    """Show the server's health and settings summary (exit 1 when unhealthy)."""
    import httpx

    client = obj.client()
    try:
        health = httpx.get(f"{client.endpoint}/health", timeout=10).json()
    except httpx.HTTPError:
        from rexwatch.cli.context import fail

        fail(f"cannot reach rexwatch at {client.endpoint}: is 'rexwatch server' running?")
    info = client.get("info")
    data = {"endpoint": client.endpoint, **health, **info}
    if want_json(obj.output):
        print_json(data)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(show_header=False, title=f"rexwatch at {client.endpoint}")
        for k, v in data.items():
            style = {"up": "green", "healthy": "green", "down": "red", "unhealthy": "red"}.get(str(v), "")
            table.add_row(k, f"[{style}]{v}[/]" if style else str(v))
        Console().print(table)
    if health.get("status") != "healthy":
        raise SystemExit(1)

"""``rexwatch mail``: the development mailbox (mail kept by the server when no smtp_host is set)."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import click

from rexwatch.cli.context import CliContext, fail, pass_ctx
from rexwatch.cli.output import print_json, print_table, want_json


@click.group()
def mail() -> None:
    """Mail the server kept instead of sending it (no smtp_host set): list, read, confirm."""


def _fetch(obj: CliContext, mail_id: int | None) -> dict:
    return obj.client().get(f"mail/{mail_id}" if mail_id is not None else "mail/latest")


@mail.command("list")
@click.option("--to", default=None, help="Only mail to this address.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@pass_ctx
def list_(obj: CliContext, to: str | None, limit: int) -> None:
    """Kept mail, newest first."""
    params = {"limit": limit, **({"to": to} if to else {})}
    rows = obj.client().get("mail", params=params)
    print_table(rows, ["id", "created_at", "to_addr", "kind", "subject"], obj.output, title="Local mailbox")


@mail.command("show")
@click.argument("mail_id", type=int, required=False)
@click.option("--raw", is_flag=True, help="Print the whole message as it would have been sent.")
@pass_ctx
def show(obj: CliContext, mail_id: int | None, raw: bool) -> None:
    """Read one mail (the newest without MAIL_ID)."""
    m = _fetch(obj, mail_id)
    if want_json(obj.output) and obj.output != "table":
        print_json(m)
        return
    if raw:
        click.echo(m["raw"])
        return
    for name in ("id", "from", "to", "subject", "date"):
        click.echo(f"{name.capitalize() if name != 'id' else 'Mail'}: {m[name]}")
    click.echo("")
    click.echo(m["text"].rstrip())


def _confirmation(obj: CliContext, mail_id: int | None, wait: float) -> dict:
    """The mail to confirm: MAIL_ID, or the newest confirmation, waiting up to ``wait`` s for the notifier
    to deliver one (it does so moments after a subscribe)."""
    deadline = time.monotonic() + wait
    while True:
        if mail_id is not None:
            return _fetch(obj, mail_id)
        rows = obj.client().get("mail", params={"limit": 50})
        found = next((r for r in rows if r["kind"] == "SubscriptionConfirmation"), None)
        if found is not None:
            return _fetch(obj, found["id"])
        if time.monotonic() >= deadline:
            fail(f"no confirmation mail arrived in the local mailbox within {wait:g} s")
        time.sleep(0.2)


@mail.command("confirm")
@click.argument("mail_id", type=int, required=False)
@click.option("--wait", type=click.FloatRange(0, 120), default=15, show_default=True,
              help="Seconds to wait for a confirmation mail to arrive.")
@pass_ctx
def confirm(obj: CliContext, mail_id: int | None, wait: float) -> None:
    """Open the confirmation link of a subscription mail (without MAIL_ID: the newest confirmation mail),
    as clicking it would."""
    m = _confirmation(obj, mail_id, wait)
    url = m.get("confirm_url")
    if not url:
        fail(f"mail {m['id']} ({m['subject']!r}) has no confirmation link")
    parts = urlsplit(url)
    # Through the CLI's own endpoint: the link names the server's public_url, which may not be reachable here.
    obj.client().get(f"{parts.path}?{parts.query}")
    click.echo(f"Confirmed the subscription of {m['to']} (mail {m['id']}).")

"""``rexwatch audit``: the audit trail of the server (REST client; needs an admin key with auth on)."""

from __future__ import annotations

import click

from rexwatch.cli.context import CliContext, pass_ctx
from rexwatch.cli.output import print_json, print_table, want_json


@click.command("audit")
@click.option("--since", default="1d", show_default=True, help="How far back (15m, 1h, 7d).")
@click.option("--filter", "pattern", default=None, help='A filter pattern, e.g. \'{ $.action = "DELETE" }\'.')
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@pass_ctx
def audit(ctx: CliContext, since: str, pattern: str | None, limit: int) -> None:
    """Who changed what, newest first."""
    params: dict = {"since": since, "limit": limit}
    if pattern:
        params["filter"] = pattern
    res = ctx.client().get("audit", params=params)
    if want_json(ctx.output):
        print_json(res)
        return
    rows = [{"at": e.get("at") or "", "actor": e.get("actor") or e.get("user_id", ""),
             "action": e.get("action") or e.get("msg", ""), "resource": e.get("resource", ""),
             "id": e.get("resource_id", ""), "door": e.get("door", ""), "ip": e.get("ip") or e.get("ip_address", "")}
            for e in res["events"]]
    print_table(rows, ["at", "actor", "action", "resource", "id", "door", "ip"], ctx.output,
                title=f"Audit trail ({res['log_group']})")

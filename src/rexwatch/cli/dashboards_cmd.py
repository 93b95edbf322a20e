"""``rexwatch dashboards``: CloudWatch dashboards over the REST API, and ``apply DIR`` for dashboards kept in git."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
import orjson

from rexwatch.cli.context import CliContext, fail, pass_ctx
from rexwatch.cli.output import print_apply_result, print_json, print_table, want_json

# Bounded so a mistaken directory (a home folder) is refused instead of read whole.
MAX_FILES = 5000


@click.group()
def dashboards() -> None:
    """CloudWatch dashboards: list, show, delete, and apply a directory of <DashboardName>.json files."""


@dashboards.command("list")
@click.option("--prefix", default=None, help="Only dashboards whose name starts with this (case-sensitive).")
@pass_ctx
def list_(obj: CliContext, prefix: str | None) -> None:
    """List dashboards with their size and last change."""
    rows, token = [], None
    while True:
        page = obj.client().get("dashboards", params={k: v for k, v in
                                                      {"prefix": prefix, "next_token": token}.items() if v})
        rows += page["dashboards"]
        token = page.get("next_token")
        if not token:
            break
    for r in rows:
        r["last_modified"] = dt.datetime.fromtimestamp(r["last_modified"] / 1000, dt.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
    print_table(rows, ["name", "size", "last_modified"], obj.output, title="Dashboards")


@dashboards.command("get")
@click.argument("name")
@pass_ctx
def get(obj: CliContext, name: str) -> None:
    """Print a dashboard's body as stored (pretty-printed JSON)."""
    d = obj.client().get(f"dashboards/{name}")
    print_json(d["body"] if d["body"] is not None else d["body_text"])


@dashboards.command("delete")
@click.argument("names", nargs=-1, required=True)
@pass_ctx
def delete(obj: CliContext, names: tuple[str, ...]) -> None:
    """Delete dashboards by name."""
    for name in names:
        obj.client().delete(f"dashboards/{name}")
    if want_json(obj.output):
        print_json({"deleted": list(names)})
    else:
        click.echo(f"Deleted {len(names)} dashboard{'s' if len(names) != 1 else ''}: {', '.join(names)}")


def load_dir(path: str) -> dict[str, str]:
    """``<DashboardName>.json`` files of a directory, as name -> body text (kept exactly as written)."""
    d = Path(path)
    files = sorted(d.glob("*.json"))
    if not files:
        fail(f"{path} holds no .json files (one file per dashboard, named <DashboardName>.json)")
    if len(files) > MAX_FILES:
        fail(f"{path} holds more than {MAX_FILES} .json files")
    out = {}
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            fail(f"cannot read {f}: {e}")
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError as e:
            fail(f"{f} is not valid JSON: {e}")
        out[f.stem] = text
    return out


@dashboards.command("apply")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--prune", is_flag=True, help="Delete dashboards that have no file in the directory.")
@pass_ctx
def apply(obj: CliContext, directory: str, prune: bool) -> None:
    """Create or update one dashboard per <DashboardName>.json file in DIRECTORY (idempotent)."""
    result = obj.client().post("dashboards/apply", json={"dashboards": load_dir(directory), "prune": prune})
    print_apply_result(obj.output, result)

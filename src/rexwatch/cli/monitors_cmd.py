"""``rexwatch monitors``: uptime monitors over the REST API, and ``apply FILE`` for monitors kept in git."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from rexwatch.cli.context import CliContext, fail, pass_ctx
from rexwatch.cli.output import print_apply_result, print_json, print_table, want_json

COLUMNS = ["id", "name", "type", "target", "status", "interval", "last_check_at", "last_error"]
STATUS_STYLE = {"up": "green", "down": "bold red", "pending": "yellow", "paused": "dim",
                "maintenance": "blue"}


def _value(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _settings(opts: dict[str, Any], sets: tuple[str, ...]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, value in opts.items():
        if value is None or value == ():
            continue
        body[key] = list(value) if isinstance(value, tuple) else value
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--set expects KEY=VALUE, got {item!r}", 2)
        body[key.strip()] = _value(value)
    return body


def monitor_options(fn):
    for opt in reversed([
        click.option("--type", "type_", default=None, help="http (default), tcp, dns or push."),
        click.option("--url", default=None, help="URL to check (http)."),
        click.option("--host", default=None, help="Host (tcp)."),
        click.option("--port", type=int, default=None, help="Port (tcp)."),
        click.option("--interval", default=None, help="Seconds or a duration (30s, 5m)."),
        click.option("--timeout", default=None, help="Seconds or a duration; at most the interval."),
        click.option("--retries", type=int, default=None, help="Failed checks tolerated before down."),
        click.option("--keyword", default=None, help="Text the response must contain (http)."),
        click.option("--expected-status", default=None, help="Code, list or range, e.g. 200-299 (http)."),
        click.option("--topic", "topics", multiple=True, help="Topic ARN notified on down/up (repeatable)."),
        click.option("--set", "sets", multiple=True, help="Any other type setting as KEY=VALUE (JSON values)."),
    ]):
        fn = opt(fn)
    return fn


def _show(obj: CliContext, rows: list[dict[str, Any]], title: str = "Monitors") -> None:
    print_table(rows, COLUMNS, obj.output, title=title, styles={"status": lambda v: STATUS_STYLE.get(v)})


@click.group()
def monitors() -> None:
    """Uptime monitors: HTTP(S), TCP, DNS and push (heartbeat) checks."""


@monitors.command("create")
@click.option("--name", required=True, help="Unique monitor name.")
@monitor_options
@pass_ctx
def create(obj: CliContext, name: str, type_: str | None, sets: tuple[str, ...], **opts: Any) -> None:
    """Create a monitor."""
    body = _settings({"name": name, "type": type_ or "http", **_rename(opts)}, sets)
    m = obj.client().post("monitors", json=body)
    if want_json(obj.output):
        print_json(m)
        return
    click.echo(f"Created monitor {m['id']} ({m['name']}): {m['target']}")
    if m.get("push_url"):
        click.echo(f"Push URL (keep it secret): {m['push_url']}")


def _rename(opts: dict[str, Any]) -> dict[str, Any]:
    out = dict(opts)
    if "expected_status" in out:
        out["expected_status"] = out.pop("expected_status")
    return out


@monitors.command("list")
@pass_ctx
def list_(obj: CliContext) -> None:
    """List monitors with their current state."""
    _show(obj, obj.client().get("monitors"))


@monitors.command("get")
@click.argument("monitor")
@pass_ctx
def get(obj: CliContext, monitor: str) -> None:
    """Show one monitor (id or name) with its uptime."""
    m = obj.client().get(f"monitors/{monitor}")
    if want_json(obj.output):
        print_json(m)
        return
    _show(obj, [m], title=m["name"])
    up = m.get("uptime") or {}
    click.echo("uptime: " + "  ".join(f"{k} {'n/a' if v is None else f'{v:.3f}%'}" for k, v in up.items()))


@monitors.command("update")
@click.argument("monitor")
@click.option("--name", default=None, help="New name.")
@monitor_options
@pass_ctx
def update(obj: CliContext, monitor: str, name: str | None, type_: str | None, sets: tuple[str, ...],
           **opts: Any) -> None:
    """Change settings of a monitor (only the options given)."""
    body = _settings({"name": name, "type": type_, **_rename(opts)}, sets)
    if not body:
        fail("nothing to change: give at least one option", 2)
    m = obj.client().request("PATCH", f"monitors/{monitor}", json=body)
    print_json(m) if want_json(obj.output) else click.echo(f"Updated monitor {m['id']} ({m['name']}).")


def _simple(action: str, past: str):
    @monitors.command(action, help=f"{action.capitalize()} a monitor (id or name).")
    @click.argument("monitor")
    @pass_ctx
    def cmd(obj: CliContext, monitor: str) -> None:
        if action == "delete":
            m = obj.client().delete(f"monitors/{monitor}")
        else:
            m = obj.client().post(f"monitors/{monitor}/{action}")
        print_json(m) if want_json(obj.output) else click.echo(f"{past} monitor {m['id']} ({m['name']}).")

    return cmd


pause = _simple("pause", "Paused")
resume = _simple("resume", "Resumed")
delete = _simple("delete", "Deleted")


@monitors.command("history")
@click.argument("monitor")
@click.option("--since", default="24h", show_default=True, help="Time or duration back (1h, 2d, ISO-8601).")
@click.option("--limit", type=int, default=50, show_default=True, help="Most results shown.")
@pass_ctx
def history(obj: CliContext, monitor: str, since: str, limit: int) -> None:
    """Recent check results, incidents and uptime of a monitor."""
    h = obj.client().get(f"monitors/{monitor}/history", params={"since": since, "limit": limit})
    if want_json(obj.output):
        print_json(h)
        return
    names = {0: "down", 1: "up", 2: "pending", 3: "maintenance"}
    rows = [{**r, "status": names.get(r["status"], r["status"]), "latency_ms": round(r["latency_ms"], 1)}
            for r in h["results"]]
    print_table(rows, ["ts", "status", "latency_ms", "status_code", "error"], obj.output,
                title=f"{h['monitor']}: checks", styles={"status": lambda v: STATUS_STYLE.get(v)})
    print_table(h["incidents"], ["start", "end", "duration_s", "cause"], obj.output, title="Incidents")
    click.echo("uptime: " + "  ".join(f"{k} {'n/a' if v is None else f'{v:.3f}%'}"
                                      for k, v in h["uptime"].items()))


def load_file(path: str) -> list[dict[str, Any]]:
    """Monitors from TOML (``[[monitors]]``) or YAML (``monitors:`` list, or a bare list)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    if p.suffix.lower() == ".toml":
        import tomllib

        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            fail(f"{path} is not valid TOML: {e}")
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            fail(f"{path} is not valid YAML: {e}")
    items = data.get("monitors") if isinstance(data, dict) else data
    if not isinstance(items, list):
        fail(f"{path} must hold a list of monitors (TOML [[monitors]] tables or YAML 'monitors:' list)")
    return items


@monitors.command("apply")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--prune", is_flag=True, help="Delete monitors that the file does not name.")
@pass_ctx
def apply(obj: CliContext, file: str, prune: bool) -> None:
    """Create or update the monitors declared in a TOML/YAML file (idempotent)."""
    result = obj.client().post("monitors/apply", json={"monitors": load_file(file), "prune": prune})
    print_apply_result(obj.output, result)

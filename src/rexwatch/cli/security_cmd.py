"""``rexwatch security …``: log alarms, rule templates, the IP blocklist and allowlist (REST clients).

Log alarms are rexwatch's own kind, so their commands take CloudWatch-style
flag names (``--alarm-name``, ``--alarm-actions``); acknowledging, muting and
history use ``rexwatch cloudwatch ack-alarm|mute-alarm`` and the REST
``/alarms/{name}/...`` routes like any alarm.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import quote

import click
import orjson

from rexwatch.cli.context import CliContext, fail, pass_ctx
from rexwatch.cli.output import print_json, print_table, want_json


def _q(name: str) -> str:
    return quote(name, safe="")


def _value(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


@click.group()
def security() -> None:
    """Security monitoring: log alarms, rule templates, IP blocklist and allowlist."""


# ---------------------------------------------------------------- log alarms


@security.command("put-log-alarm")
@click.option("--alarm-name", required=True)
@click.option("--log-group-name", "groups", multiple=True, required=True, help="Log group (repeatable).")
@click.option("--query-string", default=None, help="Logs Insights query whose rows are compared.")
@click.option("--filter-pattern", default=None, help="Instead of a query: count the events it matches.")
@click.option("--evaluation-interval", default=None, help="Run every N: seconds or 1m, 5m (default 5m).")
@click.option("--query-window", default=None, help="Over the last M: seconds or 5m, 1h (default the interval).")
@click.option("--value-column", default=None, help="Result column compared (default the last one).")
@click.option("--threshold", type=float, required=True)
@click.option("--comparison-operator", default="GreaterThanThreshold", show_default=True)
@click.option("--group-by", multiple=True, help="Result column making a key with its own state (repeatable).")
@click.option("--top-rows", type=int, default=None, help="Offending rows in a notification (default 10).")
@click.option("--ip-column", default=None, help="Group-by column a block-ip action blocks (default the first).")
@click.option("--alarm-actions", multiple=True, help="SNS topic ARN or block-ip:<duration> (repeatable).")
@click.option("--ok-actions", multiple=True, help="SNS topic ARN (repeatable).")
@click.option("--alarm-description", default=None)
@click.option("--actions-enabled/--no-actions-enabled", default=True)
@pass_ctx
def put_log_alarm(ctx: CliContext, alarm_name: str, groups: tuple[str, ...], **o: Any) -> None:
    """Create or update a log alarm."""
    body = {
        "LogGroupNames": list(groups),
        "QueryString": o["query_string"],
        "FilterPattern": o["filter_pattern"],
        "EvaluationInterval": o["evaluation_interval"],
        "QueryWindow": o["query_window"],
        "ValueColumn": o["value_column"],
        "Threshold": o["threshold"],
        "ComparisonOperator": o["comparison_operator"],
        "GroupBy": list(o["group_by"]),
        "TopRows": o["top_rows"],
        "IpColumn": o["ip_column"],
        "AlarmActions": list(o["alarm_actions"]),
        "OKActions": list(o["ok_actions"]),
        "AlarmDescription": o["alarm_description"],
        "ActionsEnabled": o["actions_enabled"],
    }
    res = ctx.client().put(f"log-alarms/{_q(alarm_name)}", json={k: v for k, v in body.items() if v is not None})
    if want_json(ctx.output):
        print_json(res)
        return
    click.echo(f"Log alarm {res['name']}: {res['state']}")


def _alarm_rows(alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"name": a["name"], "state": a["state"], "every": a["config"].get("every"),
         "window": a["config"].get("window"), "threshold": a["config"].get("threshold"),
         "reason": a["state_reason"], "error": a.get("evaluation_error") or ""}
        for a in alarms
    ]


@security.command("describe-log-alarms")
@click.option("--state-value", default=None, help="OK, ALARM or INSUFFICIENT_DATA.")
@click.option("--alarm-name-prefix", default=None)
@pass_ctx
def describe_log_alarms(ctx: CliContext, state_value: str | None, alarm_name_prefix: str | None) -> None:
    """Log alarms with their state."""
    params = {k: v for k, v in (("state", state_value), ("prefix", alarm_name_prefix)) if v}
    res = ctx.client().get("log-alarms", params=params)
    if want_json(ctx.output):
        print_json(res)
        return
    print_table(_alarm_rows(res["log_alarms"]), ["name", "state", "every", "window", "threshold", "reason",
                                                 "error"], ctx.output, title="Log alarms")


@security.command("get-log-alarm")
@click.option("--alarm-name", required=True)
@pass_ctx
def get_log_alarm(ctx: CliContext, alarm_name: str) -> None:
    """One log alarm with the keys in ALARM and the rows that breached."""
    res = ctx.client().get(f"log-alarms/{_q(alarm_name)}")
    if want_json(ctx.output):
        print_json(res)
        return
    click.echo(f"{res['name']}: {res['state']} - {res['state_reason']}")
    rows = [{"key": k["key"], "value": k["value"], "since": k["since"], "row": orjson.dumps(k["row"]).decode()}
            for k in res.get("keys", [])]
    print_table(rows, ["key", "value", "since", "row"], ctx.output, title="Keys in ALARM")


@security.command("delete-log-alarm")
@click.option("--alarm-name", required=True)
@pass_ctx
def delete_log_alarm(ctx: CliContext, alarm_name: str) -> None:
    """Delete a log alarm (its blocks stay until they expire or are removed)."""
    ctx.client().delete(f"log-alarms/{_q(alarm_name)}")


@security.command("backtest-log-alarm")
@click.option("--alarm-name", required=True)
@click.option("--since", default="1d", show_default=True, help="Start: ISO-8601, epoch, or a duration ago.")
@click.option("--until", default=None, help="End (default now).")
@pass_ctx
def backtest_log_alarm(ctx: CliContext, alarm_name: str, since: str, until: str | None) -> None:
    """Replay a log alarm over stored logs: each key's transitions."""
    params = {"since": since, **({"until": until} if until else {})}
    res = ctx.client().post(f"log-alarms/{_q(alarm_name)}/backtest", params=params)
    if want_json(ctx.output):
        print_json(res)
        return
    rows = [{"time": t["timestamp"], "key": t["key"], "from": t["old"], "to": t["new"], "value": t["value"]}
            for t in res["transitions"]]
    print_table(rows, ["time", "key", "from", "to", "value"], ctx.output,
                title=f"{alarm_name}: {len(rows)} transition(s) since {res['since']}")


# ---------------------------------------------------------------- templates


@security.command("templates")
@pass_ctx
def list_templates(ctx: CliContext) -> None:
    """The ready-made rule templates and their parameters."""
    res = ctx.client().get("security/templates")
    if want_json(ctx.output):
        print_json(res)
        return
    rows = [{"name": t["name"], "rule": t["description"],
             "params": ", ".join(f"{k}={v}" for k, v in t["params"].items())} for t in res["templates"]]
    print_table(rows, ["name", "rule", "params"], ctx.output, title="Security rule templates")


@security.command("apply")
@click.argument("template")
@click.option("--name", default=None, help="Alarm name (default the template's name).")
@click.option("--log-group", default=None, help="Log group the rule reads.")
@click.option("--topic", default=None, help="SNS topic ARN notified on ALARM and OK.")
@click.option("--block", default=None, help="Block duration for IP rules (1h), or 'none' to only notify.")
@click.option("--threshold", type=float, default=None)
@click.option("--set", "sets", multiple=True, help="Template parameter as KEY=VALUE (JSON values), e.g. "
              "ip_field=client_ip.")
@pass_ctx
def apply(ctx: CliContext, template: str, name: str | None, log_group: str | None, topic: str | None,
          block: str | None, threshold: float | None, sets: tuple[str, ...]) -> None:
    """Create (or replace) the log alarm a template makes."""
    params: dict[str, Any] = {}
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--set expects KEY=VALUE, got {item!r}", 2)
        params[key.strip()] = _value(value)
    for key, value in (("name", name), ("log_group", log_group), ("topic", topic), ("threshold", threshold)):
        if value is not None:
            params[key] = value
    if block is not None:
        params["block"] = None if block.lower() == "none" else block
    res = ctx.client().post(f"security/templates/{_q(template)}/apply", json={"params": params})
    if want_json(ctx.output):
        print_json(res)
        return
    click.echo(f"Log alarm {res['name']} from template {template}: {res['state']}")


# ---------------------------------------------------------------- blocklist and allowlist


@security.command("block")
@click.argument("ip")
@click.option("--ttl", default=None, help="How long: seconds or 30m, 1h, 2d (default until removed).")
@click.option("--reason", default="", help="Why (kept with the entry and in the security log).")
@pass_ctx
def block(ctx: CliContext, ip: str, ttl: str | None, reason: str) -> None:
    """Block an address or CIDR network."""
    res = ctx.client().post("blocklist", json={"ip": ip, "ttl": ttl, "reason": reason})
    if want_json(ctx.output):
        print_json(res)
        return
    click.echo(f"Blocked {res['ip']}" + (f" until {res['expires_at']}" if res["expires_at"] else ""))


@security.command("unblock")
@click.argument("ip")
@pass_ctx
def unblock(ctx: CliContext, ip: str) -> None:
    """Remove an entry from the blocklist."""
    ctx.client().delete(f"blocklist/{ip}")


@security.command("blocklist")
@pass_ctx
def blocklist(ctx: CliContext) -> None:
    """Active blocks (the allowlist always wins)."""
    res = ctx.client().get("blocklist")
    if want_json(ctx.output):
        print_json(res)
        return
    print_table(res["entries"], ["ip", "expires_at", "alarm", "reason", "added_by"], ctx.output,
                title="Blocklist")


@security.command("export")
@click.option("--format", "fmt", type=click.Choice(["plain", "nginx", "ipset", "json"]), default="plain",
              show_default=True)
@pass_ctx
def export(ctx: CliContext, fmt: str) -> None:
    """Print the blocklist as a plain list, an nginx deny include, ipset commands or a JSON feed."""
    res = ctx.client().get("blocklist/export", params={"format": fmt})
    sys.stdout.write(res if isinstance(res, str) else orjson.dumps(res).decode() + "\n")


@security.command("allow")
@click.argument("ip")
@click.option("--note", default="", help="Why (an office, a health checker).")
@pass_ctx
def allow(ctx: CliContext, ip: str, note: str) -> None:
    """Put an address or network on the allowlist: never blocked."""
    res = ctx.client().post("allowlist", json={"ip": ip, "note": note})
    if not want_json(ctx.output):
        click.echo(f"Allowed {res['ip']}")
        return
    print_json(res)


@security.command("disallow")
@click.argument("ip")
@pass_ctx
def disallow(ctx: CliContext, ip: str) -> None:
    """Remove an entry from the allowlist."""
    ctx.client().delete(f"allowlist/{ip}")


@security.command("allowlist")
@pass_ctx
def allowlist(ctx: CliContext) -> None:
    """Addresses and networks that are never blocked."""
    res = ctx.client().get("allowlist")
    if want_json(ctx.output):
        print_json(res)
        return
    print_table(res["entries"], ["ip", "note", "created_at"], ctx.output, title="Allowlist")

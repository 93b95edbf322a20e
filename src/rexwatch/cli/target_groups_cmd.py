"""``rexwatch target-groups``: load-balancer style health checks, with ``aws elbv2`` names and flags."""

from __future__ import annotations

from typing import Any

import click
import orjson

from rexwatch.cli.context import CliContext, fail, pass_ctx
from rexwatch.cli.output import print_json, print_table


def _parse_targets(values: tuple[str, ...]) -> list[dict[str, Any]]:
    """``Id=a,Port=80 Id=b`` (AWS shorthand), JSON, or ``file://targets.json``."""
    out: list[dict[str, Any]] = []
    for value in values:
        text = value.strip()
        if text.startswith("file://"):
            try:
                with open(text[7:]) as f:
                    text = f.read()
            except OSError as e:
                fail(f"cannot read {text[7:]}: {e.strerror}", 2)
        if text.startswith(("[", "{")):
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError:
                fail(f"--targets: {value!r} is not valid JSON", 2)
            out.extend(data if isinstance(data, list) else [data])
            continue
        item: dict[str, Any] = {}
        for part in text.split(","):
            key, sep, v = part.partition("=")
            if not sep or key.strip() not in ("Id", "Port", "AvailabilityZone"):
                fail(f"--targets: expected Id=VALUE[,Port=N], got {value!r}", 2)
            item[key.strip()] = int(v) if key.strip() == "Port" and v.strip().isdigit() else v.strip()
        out.append(item)
    if not out:
        fail("--targets is required", 2)
    return out


def _matcher(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    if text.startswith("{"):
        return str(orjson.loads(text).get("HttpCode", ""))
    return text.split("=", 1)[1] if text.startswith("HttpCode=") else text


def _print(obj: CliContext, data: dict[str, Any]) -> None:
    if obj.output in ("table", "text") and "TargetHealthDescriptions" in data:
        rows = [{"target": d["Target"]["Id"], "port": d["Target"].get("Port"), "state": d["TargetHealth"]["State"],
                 "reason": d["TargetHealth"].get("Reason"), "description": d["TargetHealth"].get("Description")}
                for d in data["TargetHealthDescriptions"]]
        styles = {"state": lambda v: {"healthy": "green", "unhealthy": "bold red", "initial": "yellow"}.get(v)}
        print_table(rows, ["target", "port", "state", "reason", "description"], obj.output, styles=styles)
        return
    print_json(data)  # like the AWS CLI: JSON unless asked otherwise


@click.group("target-groups")
def target_groups() -> None:
    """Target groups with ELB-style health checks (HealthyHostCount/UnhealthyHostCount metrics)."""


@target_groups.command("create")
@click.option("--name", required=True)
@click.option("--protocol", default="HTTP", show_default=True, type=click.Choice(["HTTP", "HTTPS", "TCP"]))
@click.option("--port", type=int, default=None, help="Traffic port of the targets.")
@click.option("--health-check-protocol", default=None, type=click.Choice(["HTTP", "HTTPS", "TCP"]))
@click.option("--health-check-port", default=None, help="traffic-port (default) or a port.")
@click.option("--health-check-path", default=None, help="Default /.")
@click.option("--health-check-enabled/--no-health-check-enabled", default=None)
@click.option("--health-check-interval-seconds", type=float, default=None, help="Default 30.")
@click.option("--health-check-timeout-seconds", type=float, default=None, help="Default 5 (HTTP).")
@click.option("--healthy-threshold-count", type=int, default=None, help="Default 5.")
@click.option("--unhealthy-threshold-count", type=int, default=None, help="Default 2.")
@click.option("--matcher", default=None, help="HttpCode=200, 200-299 or 200,202.")
@click.option("--topic", "topics", multiple=True, help="Topic ARN notified when a target goes unhealthy/healthy.")
@pass_ctx
def create(obj: CliContext, name: str, protocol: str, port: int | None, health_check_protocol: str | None,
           health_check_port: str | None, health_check_path: str | None, health_check_enabled: bool | None,
           health_check_interval_seconds: float | None, health_check_timeout_seconds: float | None,
           healthy_threshold_count: int | None, unhealthy_threshold_count: int | None, matcher: str | None,
           topics: tuple[str, ...]) -> None:
    """Create a target group (idempotent for identical settings)."""
    body = {
        "name": name, "protocol": protocol, "port": port, "health_check_protocol": health_check_protocol,
        "health_check_port": health_check_port, "health_check_path": health_check_path,
        "health_check_enabled": health_check_enabled, "health_check_interval": health_check_interval_seconds,
        "health_check_timeout": health_check_timeout_seconds, "healthy_threshold": healthy_threshold_count,
        "unhealthy_threshold": unhealthy_threshold_count, "matcher": _matcher(matcher), "topics": list(topics),
    }
    group = obj.client().post("target-groups", json={k: v for k, v in body.items() if v is not None})
    print_json({"TargetGroups": [group]})


@target_groups.command("describe-target-groups")
@pass_ctx
def describe_target_groups(obj: CliContext) -> None:
    """List target groups and their health check settings."""
    print_json({"TargetGroups": obj.client().get("target-groups")})


def _targets_command(name: str, path: str, doc: str, required: bool = True):
    @target_groups.command(name, help=doc)
    @click.option("--target-group-arn", required=True, help="ARN (or name) of the target group.")
    @click.option("--targets", "targets", multiple=True, help="Id=HOST[,Port=N] ...; JSON or file:// too.")
    @click.argument("more", nargs=-1)
    @pass_ctx
    def cmd(obj: CliContext, target_group_arn: str, targets: tuple[str, ...], more: tuple[str, ...]) -> None:
        values = targets + more
        if required and not values:
            fail("--targets is required", 2)
        body: dict[str, Any] = {"target_group": target_group_arn}
        if values:
            body["targets"] = _parse_targets(values)
        result = obj.client().post(f"target-groups/{path}", json=body)
        if path == "describe-target-health":
            _print(obj, result)
        elif obj.output == "json":
            print_json(result)

    return cmd


register_targets = _targets_command("register-targets", "register-targets",
                                    "Register targets (Id=host-or-IP[,Port=N]); new targets start 'initial'.")
deregister_targets = _targets_command("deregister-targets", "deregister-targets", "Deregister targets.")
describe_target_health = _targets_command(
    "describe-target-health", "describe-target-health",
    "State (initial/healthy/unhealthy/unused), reason and description of each target.", required=False)

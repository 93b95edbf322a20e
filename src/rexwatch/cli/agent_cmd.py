"""``rexwatch agent``: run the collector agent; ``rexwatch rds``: the runbook's RDS log-file commands,
answered from the slow-query logs the agent ships."""

from __future__ import annotations

import json
import logging
import signal
import threading
from typing import Any

import click

from rexwatch.cli.context import CliContext, fail, pass_ctx
from rexwatch.cli.output import print_json, want_json

# PostgreSQL's log for an instance lives where RDS's CloudWatch export puts it.
RDS_GROUP = "/aws/rds/instance/{id}/postgresql"
MAX_LINES = 10_000


@click.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="The agent's TOML configuration (see docs/agent.md).")
@click.option("--once", is_flag=True, help="Collect once and print what would be sent, then exit.")
@pass_ctx
def agent(obj: CliContext, config_path: str, once: bool) -> None:
    """Collect host, PostgreSQL and Redis metrics and tail log files into a rexwatch server."""
    try:
        from rexwatch.agent.config import ConfigError, load
    except ModuleNotFoundError as e:
        fail(f"the agent needs {e.name}: pip install 'rexwatch[agent]'")
    try:
        cfg = load(config_path)
    except ConfigError as e:
        fail(str(e))
    if not cfg.server.api_key and obj.api_key:
        cfg.server.api_key = obj.api_key
    try:
        from rexwatch.agent.runner import Agent
    except ModuleNotFoundError as e:
        fail(f"the agent needs {e.name}: pip install 'rexwatch[agent]'")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    a = Agent(cfg)
    try:
        if once:
            payloads = a.once()
            if want_json(obj.output):
                print_json(payloads)
            else:
                _print_payloads(payloads)
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        click.echo(f"rexwatch agent {cfg.name}: sending to {cfg.server.endpoint} "
                   f"(buffer {cfg.state_path / 'spool'})", err=True)
        a.run(stop)
    finally:
        a.close()


def _print_payloads(payloads: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    metrics = Table(title="metrics", show_lines=False)
    for col in ("namespace", "metric", "dimensions", "value", "unit"):
        metrics.add_column(col, justify="right" if col == "value" else "left")
    logs = Table(title="log lines")
    for col in ("group", "stream", "events", "first message"):
        logs.add_column(col)
    for p in payloads:
        if p["kind"] == "metrics":
            for d in p["metric_data"]:
                dims = ", ".join(f"{x['name']}={x['value']}" for x in d["dimensions"])
                metrics.add_row(p["namespace"], d["metric_name"], dims, f"{d['value']:.6g}", d["unit"])
        else:
            first = p["events"][0]["message"] if p["events"] else ""
            logs.add_row(p["group"], p["stream"], str(len(p["events"])), first[:80])
    console.print(metrics)
    if logs.row_count:
        console.print(logs)


@click.group()
def rds() -> None:
    """The runbook's RDS log-file commands, over the PostgreSQL logs the agent ships."""


@rds.command("describe-db-log-files")
@click.option("--db-instance-identifier", required=True)
@pass_ctx
def describe_db_log_files(obj: CliContext, db_instance_identifier: str) -> None:
    """List an instance's log files (log streams of /aws/rds/instance/<id>/postgresql)."""
    client = obj.client()
    group = RDS_GROUP.format(id=db_instance_identifier)
    files, token = [], None
    while True:
        params: dict[str, Any] = {"group": group}
        if token:
            params["next_token"] = token
        page = client.get("logs/streams", params=params)
        for s in page["streams"]:
            files.append({"LogFileName": s["logStreamName"],
                          "LastWritten": s.get("lastIngestionTime") or s["creationTime"],
                          "Size": s.get("storedBytes", 0)})
        token = page.get("next_token")
        if not token:
            break
    print_json({"DescribeDBLogFiles": files})


@rds.command("download-db-log-file-portion")
@click.option("--db-instance-identifier", required=True)
@click.option("--log-file-name", required=True)
@click.option("--marker", default=None, help='"0" reads from the start; a returned Marker continues.')
@click.option("--number-of-lines", type=click.IntRange(1, MAX_LINES), default=None)
@pass_ctx
def download_db_log_file_portion(obj: CliContext, db_instance_identifier: str, log_file_name: str,
                                 marker: str | None, number_of_lines: int | None) -> None:
    """Print a portion of a log file, as the AWS CLI does (LogFileData, Marker, AdditionalDataPending)."""
    client = obj.client()
    limit = number_of_lines or MAX_LINES
    params: dict[str, Any] = {"group": RDS_GROUP.format(id=db_instance_identifier), "stream": log_file_name,
                              "limit": limit}
    if marker == "0":
        params["start_from_head"] = True
    elif marker:
        params["next_token"] = marker
    page = client.get("logs/events", params=params)
    lines = [_raw(e["message"]) for e in page["events"]]
    print_json({"LogFileData": "\n".join(lines) + ("\n" if lines else ""),
                "Marker": page["next_forward_token"],
                "AdditionalDataPending": marker is not None and len(lines) == limit})


def _raw(message: str) -> str:
    # Slow statements are shipped as JSON with the original line kept under "message".
    if message.startswith("{"):
        try:
            doc = json.loads(message)
        except ValueError:
            return message
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):
            return doc["message"]
    return message

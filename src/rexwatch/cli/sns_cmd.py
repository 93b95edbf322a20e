"""``rexwatch sns …``: the AWS CLI's sns commands plus rexwatch's own."""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import quote

import click

from rexwatch.cli.aws_mirror import AwsMirrorGroup
from rexwatch.cli.context import CliContext, fail, pass_ctx
from rexwatch.cli.output import print_json, print_table, want_json

sns = AwsMirrorGroup(
    "sns", aws_service="sns", help="AWS CLI 'sns' operations against rexwatch, plus rexwatch's own commands."
)

_COLUMNS = ["id", "message_id", "protocol", "endpoint", "status", "attempts", "outcome"]
_STATUS_STYLE = {"delivered": "green", "dead": "red", "pending": "yellow", "sending": "yellow"}


def _style(status: Any) -> str | None:
    return _STATUS_STYLE.get(str(status))


def _show(obj: CliContext, rows: list[dict[str, Any]], title: str) -> None:
    # One column says what happened: where it went when delivered, why not otherwise.
    rows = [{**r, "outcome": r.get("detail") or r.get("last_error") or ""} for r in rows]
    print_table(rows, _COLUMNS, obj.output, title=title, styles={"status": _style})


@sns.command("test-topic")
@click.option("--topic-arn", required=True, help="Topic ARN (any region/account) or name.")
@click.option("--message", default="This is a test notification from rexwatch.", show_default=True)
@click.option("--subject", default="rexwatch test", show_default=True)
@click.option("--wait", type=click.FloatRange(0, 55), default=30, show_default=True,
              help="Seconds to wait for every delivery to finish.")
@pass_ctx
def test_topic(obj: CliContext, topic_arn: str, message: str, subject: str, wait: float) -> None:
    """Publish a test message through every subscription and report each delivery's outcome."""
    client = obj.client()
    body = {"message": message, "subject": subject}
    path = f"topics/{quote(topic_arn, safe='')}/test"
    if sys.stderr.isatty() and not want_json(obj.output):
        from rich.console import Console

        with Console(stderr=True).status(f"Delivering a test message through {topic_arn} …"):
            result = client.post(path, json=body, params={"wait": wait})
    else:
        result = client.post(path, json=body, params={"wait": wait})
    rows = result["deliveries"]
    if want_json(obj.output) and obj.output != "table":
        print_json(result)
    else:
        _show(obj, rows, f"Test message {result['message_id']}")
    if not rows:
        fail("the topic has no confirmed subscriptions: nothing was delivered")
    bad = [r for r in rows if r["status"] != "delivered"]
    if bad:
        fail(f"{len(bad)} of {len(rows)} deliveries did not succeed")


@sns.command("deliveries")
@click.option("--status", type=click.Choice(["pending", "delivered", "dead"]), default=None)
@click.option("--topic-arn", default=None, help="Only this topic (ARN or name).")
@click.option("--message-id", default=None)
@click.option("--subscription-arn", default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@pass_ctx
def deliveries(obj: CliContext, status: str | None, topic_arn: str | None, message_id: str | None,
               subscription_arn: str | None, limit: int) -> None:
    """The delivery log, newest first: status, attempts and last error of each delivery."""
    params = {k: v for k, v in {"status": status, "topic": topic_arn, "message_id": message_id,
                                "subscription": subscription_arn, "limit": limit}.items() if v is not None}
    _show(obj, obj.client().get("deliveries", params=params), "Deliveries")


@sns.command("dead-letters")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@pass_ctx
def dead_letters(obj: CliContext, limit: int) -> None:
    """Deliveries that failed after their last retry."""
    _show(obj, obj.client().get("deliveries/dead-letters", params={"limit": limit}), "Dead letters")


@sns.command("replay")
@click.option("--id", "ids", type=int, multiple=True, help="Dead letter id (repeatable).")
@click.option("--all", "all_", is_flag=True, help="Replay every dead letter.")
@pass_ctx
def replay(obj: CliContext, ids: tuple[int, ...], all_: bool) -> None:
    """Queue dead letters again with fresh attempts."""
    if not ids and not all_:
        fail("give --id N (repeatable) or --all", 2)
    result = obj.client().post("deliveries/replay", json={"ids": None if all_ else list(ids)})
    if want_json(obj.output) and obj.output != "table":
        print_json(result)
    else:
        click.echo(f"replayed {result['replayed']} deliveries")

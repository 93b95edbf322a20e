"""``rexwatch logs …``: the AWS CLI's logs commands plus rexwatch's own."""

from __future__ import annotations

import sys

import click

from rexwatch.cli.aws_mirror import AwsMirrorGroup
from rexwatch.cli.context import CliContext, fail, pass_ctx

logs = AwsMirrorGroup(
    "logs",
    aws_service="logs",
    help="AWS CLI 'logs' operations against rexwatch, plus rexwatch's own commands.",
)


def _check_time(value: str | None, flag: str) -> None:
    if value is None:
        return
    from rexwatch.errors import Invalid
    from rexwatch.timeparse import parse_time

    try:
        parse_time(value)
    except Invalid as e:
        raise click.BadParameter(e.message, param_hint=flag)


@logs.command("tail")
@click.argument("group_names", nargs=-1, required=True, metavar="GROUP...")
@click.option("--follow", is_flag=True, help="Keep printing new events until interrupted.")
@click.option("--since", default="10m", show_default=True,
              help="How far back to start: 10s, 30m, 1h, 2d or an ISO-8601 time.")
@click.option("--start-time", default=None, help="Start (ISO-8601, epoch s/ms or 1h); overrides --since.")
@click.option("--end-time", default=None, help="End (ISO-8601, epoch s/ms or 1h).")
@click.option("--filter-pattern", default=None, help="CloudWatch filter pattern, e.g. ERROR or '{ $.duration > 1000 }'.")
@click.option("--log-stream-names", multiple=True, help="Only these streams (repeat or space-separate).")
@click.option("--log-stream-name-prefix", default=None, help="Only streams starting with this prefix.")
@click.option("--format", "fmt", type=click.Choice(["detailed", "short", "json"]), default="detailed",
              show_default=True, help="detailed: time, stream, message; short: time, message; json: JSON lines.")
@click.option("--color", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True)
@click.option("--poll-interval", type=float, default=1.0, show_default=True, hidden=True)
@pass_ctx
def tail(ctx: CliContext, group_names: tuple[str, ...], follow: bool, since: str, start_time: str | None,
         end_time: str | None, filter_pattern: str | None, log_stream_names: tuple[str, ...],
         log_stream_name_prefix: str | None, fmt: str, color: str, poll_interval: float) -> None:
    """Print the events of log groups and, with --follow, new ones as they arrive (as 'aws logs tail')."""
    from rexwatch.cli.logs_tail import run_tail

    _check_time(since, "--since")
    _check_time(start_time, "--start-time")
    _check_time(end_time, "--end-time")
    if log_stream_names and log_stream_name_prefix:
        raise click.UsageError("use --log-stream-names or --log-stream-name-prefix, not both")
    streams = [n for item in log_stream_names for n in item.split()]
    colour = sys.stdout.isatty() if color == "auto" else color == "on"
    try:
        run_tail(ctx.client(), list(group_names), start=start_time or since, end=end_time,
                 pattern=filter_pattern, streams=streams, stream_prefix=log_stream_name_prefix, follow=follow,
                 fmt=fmt, colour=colour, poll_s=poll_interval)
    except KeyboardInterrupt:
        sys.stdout.flush()


@logs.command("export")
@click.option("--log-group-name", required=True, help="The log group to export.")
@click.option("--from", "start", required=True, help="Start (ISO-8601, epoch s/ms or 2d).")
@click.option("--to", "end", default="now", show_default=True, help="End, exclusive.")
@click.option("--destination", required=True, help="A directory or s3://bucket/prefix.")
@click.option("--endpoint-url", "s3_endpoint", default=None,
              help="S3-compatible endpoint for an s3:// destination (credentials from AWS_* variables).")
@click.option("--filter-pattern", default=None, help="Export only events matching this filter pattern.")
@pass_ctx
def export(ctx: CliContext, log_group_name: str, start: str, end: str, destination: str,
           s3_endpoint: str | None, filter_pattern: str | None) -> None:
    """Write a group's events to Parquet (zstd), partitioned by day and stream (date=…/log_stream=…/)."""
    from rexwatch.cli.logs_export import run_export
    from rexwatch.cli.output import print_json, want_json

    _check_time(start, "--from")
    _check_time(end, "--to")
    result = run_export(ctx.client(), log_group_name, start, end, destination, s3_endpoint, filter_pattern,
                        progress=sys.stderr.isatty())
    if want_json(ctx.output):
        print_json(result)
    else:
        click.echo(f"exported {result['events']} events of {log_group_name} to {destination} "
                   f"({len(result['days'])} day(s))")
    if result["events"] == 0:
        click.echo("note: no events in that range", err=True)


__all__ = ["export", "fail", "logs", "tail"]

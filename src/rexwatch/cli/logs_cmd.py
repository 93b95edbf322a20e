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


def _check_time(value: str | None, flag: str) -> str | None:
    """Resolve a time argument once, to epoch ms, so a relative one does not slide while following."""
    if value is None:
        return None
    from rexwatch.errors import Invalid
    from rexwatch.timeparse import parse_time, to_millis

    try:
        return str(to_millis(parse_time(value)))
    except Invalid as e:
        raise click.BadParameter(e.message, param_hint=flag)


@logs.command("tail", context_settings={"allow_extra_args": True})
@click.argument("group_name", metavar="GROUP")
@click.option("--follow", is_flag=True, help="Keep printing new events until interrupted.")
@click.option("--since", default="10m", show_default=True,
              help="How far back to start: 10s, 30m, 1h, 2d or an ISO-8601 time.")
@click.option("--start-time", default=None, help="Start (ISO-8601, epoch s/ms or 1h); overrides --since.")
@click.option("--end-time", default=None, help="End (ISO-8601, epoch s/ms or 1h).")
@click.option("--filter-pattern", default=None, help="CloudWatch filter pattern, e.g. ERROR or '{ $.duration > 1000 }'.")
@click.option("--log-stream-names", multiple=True, help="Only these streams (space-separated, as the AWS CLI).")
@click.option("--log-stream-name-prefix", default=None, help="Only streams starting with this prefix.")
@click.option("--format", "fmt", type=click.Choice(["detailed", "short", "json"]), default="detailed",
              show_default=True, help="detailed: time, stream, message; short: time, message; json: JSON lines.")
@click.option("--color", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True)
@click.option("--poll-interval", type=float, default=1.0, show_default=True, hidden=True)
@click.pass_context
def tail(cctx: click.Context, group_name: str, follow: bool, since: str, start_time: str | None,
         end_time: str | None, filter_pattern: str | None, log_stream_names: tuple[str, ...],
         log_stream_name_prefix: str | None, fmt: str, color: str, poll_interval: float) -> None:
    """Print a log group's events and, with --follow, new ones as they arrive (as 'aws logs tail')."""
    from rexwatch.cli.logs_tail import run_tail

    ctx = cctx.find_object(CliContext)
    if cctx.args:
        if not log_stream_names:
            raise click.UsageError(f"unexpected extra arguments: {' '.join(cctx.args)}")
        # `--log-stream-names a b c`, as the AWS CLI takes lists.
        log_stream_names = (*log_stream_names, *cctx.args)
    since = _check_time(since, "--since")
    start_time = _check_time(start_time, "--start-time")
    end_time = _check_time(end_time, "--end-time")
    if log_stream_names and log_stream_name_prefix:
        raise click.UsageError("use --log-stream-names or --log-stream-name-prefix, not both")
    streams = [n for item in log_stream_names for n in item.split()]
    colour = sys.stdout.isatty() if color == "auto" else color == "on"
    try:
        run_tail(ctx.client(), [group_name], start=start_time or since, end=end_time,
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

    start = _check_time(start, "--from")
    end = _check_time(end, "--to")
    result = run_export(ctx.client(), log_group_name, start, end, destination, s3_endpoint, filter_pattern,
                        progress=sys.stderr.isatty())
    if want_json(ctx.output):
        print_json(result)
    else:
        click.echo(f"exported {result['events']} events of {log_group_name} to {destination} "
                   f"({len(result['days'])} day(s))")
    if result["events"] == 0:
        click.echo("note: no events in that range", err=True)


@logs.command("query")
@click.argument("query_string", metavar="QUERY")
@click.option("--log-group-name", "group_names", multiple=True, required=True,
              help="A log group name or ARN (repeat for up to 50 groups).")
@click.option("--since", default="1h", show_default=True, help="How far back: 15m, 1h, 2d or an ISO-8601 time.")
@click.option("--start-time", default=None, help="Start (ISO-8601, epoch s/ms or 1h); overrides --since.")
@click.option("--end-time", default=None, help="End (ISO-8601, epoch s/ms); default now.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=None, help="At most this many rows.")
@click.option("--wait", "wait_s", type=float, default=300, show_default=True,
              help="Seconds to wait for the result before stopping the query.")
@click.option("--output", "fmt", type=click.Choice(["table", "json", "csv"]), default=None,
              help="table in a terminal, json when piped; csv on request.")
@pass_ctx
def query(ctx: CliContext, query_string: str, group_names: tuple[str, ...], since: str, start_time: str | None,
          end_time: str | None, limit: int | None, wait_s: float, fmt: str | None) -> None:
    """Run a Logs Insights query and print its results, e.g. 'stats count() by path | sort count desc'."""
    from rexwatch.cli.logs_query import print_result, run_query
    from rexwatch.cli.output import want_json

    _check_time(since, "--since")
    _check_time(start_time, "--start-time")
    _check_time(end_time, "--end-time")
    fmt = fmt or ctx.output
    if fmt not in ("table", "json", "csv"):
        fmt = "json" if want_json(fmt) else "table"
    res = run_query(ctx.client(), query_string, list(group_names), start_time or since, end_time, limit, wait_s,
                    spinner=sys.stderr.isatty())
    if res["status"] != "Complete":
        fail(f"query {res['status'].lower()}: {res.get('error') or 'no result'}")
    print_result(res, fmt)


__all__ = ["export", "fail", "logs", "query", "tail"]

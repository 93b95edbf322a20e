"""``rexwatch cloudwatch …``: the AWS CLI's cloudwatch commands plus rexwatch's own."""

from __future__ import annotations

import datetime as dt

import click

from rexwatch.cli.aws_mirror import AwsMirrorGroup
from rexwatch.cli.context import CliContext, fail, pass_ctx
from rexwatch.cli.output import print_json, want_json

cloudwatch = AwsMirrorGroup(
    "cloudwatch",
    aws_service="cloudwatch",
    help="AWS CLI 'cloudwatch' operations against rexwatch, plus rexwatch's own commands.",
)


def _dimension_args(values: tuple[str, ...]) -> list[str]:
    """Accept the AWS shorthand ``Name=Env,Value=prod`` as well as ``Env=prod``."""
    out = []
    for raw in values:
        for part in raw.split(" "):
            if not part:
                continue
            if part.startswith("Name="):
                fields = dict(p.split("=", 1) for p in part.split(",") if "=" in p)
                if "Name" not in fields or "Value" not in fields:
                    fail(f"--dimensions {part!r}: write Name=N,Value=V", 2)
                out.append(f"{fields['Name']}={fields['Value']}")
            elif "=" in part:
                out.append(part)
            else:
                fail(f"--dimensions {part!r}: write Name=N,Value=V or N=V", 2)
    return out


@cloudwatch.command("graph")
@click.option("--namespace", required=True, help="Metric namespace, e.g. UTM/Application.")
@click.option("--metric-name", required=True, help="Metric name, e.g. APILatency.")
@click.option("--dimensions", multiple=True, help="Name=N,Value=V (or N=V); repeatable.")
@click.option("--statistic", default="Average", show_default=True, help="Average, Sum, Maximum, p99, ...")
@click.option("--period", type=int, default=None, help="Seconds per point (default: fits the terminal).")
@click.option("--start-time", "start", default="3h", show_default=True, help="ISO-8601, epoch or 3h/2d.")
@click.option("--end-time", "end", default="now", show_default=True)
@click.option("--height", type=click.IntRange(1, 60), default=10, show_default=True,
              help="Rows of the chart; 1 draws a one-line sparkline.")
@pass_ctx
def graph(
    ctx: CliContext,
    namespace: str,
    metric_name: str,
    dimensions: tuple[str, ...],
    statistic: str,
    period: int | None,
    start: str,
    end: str,
    height: int,
) -> None:
    """Draw a metric statistic over time in the terminal."""
    import shutil

    from rexwatch.errors import Invalid
    from rexwatch.timeparse import parse_time

    try:
        t0, t1 = parse_time(start), parse_time(end)
    except Invalid as e:
        fail(e.message, 2)
    width = max(20, min(200, shutil.get_terminal_size((100, 24)).columns - 14))
    if period is None:
        seconds = max(60.0, (t1 - t0).total_seconds() / width)
        period = int(-(-seconds // 60) * 60)
    basic = statistic in ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
    params: list[tuple[str, str | int]] = [
        ("namespace", namespace),
        ("metric_name", metric_name),
        ("start", t0.isoformat()),
        ("end", t1.isoformat()),
        ("period", period),
        ("statistics" if basic else "extended_statistics", statistic),
    ]
    params += [("dimension", d) for d in _dimension_args(dimensions)]
    data = ctx.client().get("metrics/statistics", params=params)
    points = []
    for d in data["datapoints"]:
        v = d.get(statistic) if basic else (d.get("extended_statistics") or {}).get(statistic)
        if v is not None:
            points.append((dt.datetime.fromisoformat(d["timestamp"].replace("Z", "+00:00")), float(v)))
    points.sort()
    if want_json(ctx.output) and ctx.output != "table":
        print_json(
            {
                "label": data["label"],
                "statistic": statistic,
                "period": period,
                "points": [{"timestamp": t.isoformat(), "value": v} for t, v in points],
            }
        )
        return
    from rich.console import Console

    from rexwatch.cli.charts import bar_chart, sparkline

    console = Console()
    title = f"{namespace} {metric_name} {statistic} (period {period}s)"
    if not points:
        console.print(
            f"[bold]{title}[/]\n[dim]no datapoints between {t0:%Y-%m-%d %H:%M} and {t1:%H:%M} UTC[/]"
        )
        return
    # One column per period across the range, gaps where there is no data.
    first = int(t0.timestamp()) // period * period
    n = max(1, -(-int(t1.timestamp() - first) // period))
    by_t = {int(t.timestamp()): v for t, v in points}
    series = [by_t.get(first + i * period) for i in range(n)]
    if n > width:  # keep the most recent columns that fit
        series = series[-width:]
        first = first + (n - width) * period
    rows = bar_chart(series, height) if height > 1 else [sparkline(series)]
    vals = [v for _, v in points]
    hi, lo = max(vals), min(0.0, min(vals))
    console.print(f"[bold]{title}[/]")
    for i, row in enumerate(rows):
        label = f"{hi:>10.4g} " if i == 0 else (f"{lo:>10.4g} " if i == len(rows) - 1 else " " * 11)
        console.print(f"[dim]{label}│[/][cyan]{row}[/]", highlight=False)
    start_label = dt.datetime.fromtimestamp(first, dt.UTC).strftime("%m-%d %H:%M")
    end_label = t1.strftime("%m-%d %H:%M")
    pad = max(1, len(series) - len(start_label) - len(end_label))
    console.print(f"{' ' * 11} {start_label}{' ' * pad}{end_label}", style="dim", highlight=False)
    console.print(
        f"[dim]{len(points)} points · min {min(vals):.4g} · max {max(vals):.4g} · last {vals[-1]:.4g}[/]",
        highlight=False,
    )

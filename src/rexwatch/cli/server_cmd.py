"""``rexwatch server`` and ``rexwatch worker``."""

from __future__ import annotations

import click

from rexwatch.cli.context import CliContext, fail, pass_ctx
from rexwatch.errors import ConfigError


@click.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 9099).")
@click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None, help="Where the embedded stores live."
)
@click.option(
    "--auth",
    type=click.Choice(["auto", "on", "off"]),
    default=None,
    help="API auth: auto is off on loopback, on elsewhere.",
)
@click.option("--workers", default=None, help="Workers to run: all, none, or a comma-separated list.")
@pass_ctx
def server(
    obj: CliContext,
    host: str | None,
    port: int | None,
    data_dir: str | None,
    auth: str | None,
    workers: str | None,
) -> None:
    """Start the server with its embedded stores and every worker."""
    from rexwatch.server.run import serve
    from rexwatch.settings import load_settings

    try:
        settings = load_settings(
            obj.config, host=host, port=port, data_dir=data_dir, auth=auth, workers=workers
        )
        raise SystemExit(serve(settings))
    except ConfigError as e:
        fail(str(e))


@click.command()
@click.argument("name")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None)
@pass_ctx
def worker(obj: CliContext, name: str, data_dir: str | None) -> None:
    """Run one background worker alone (needs a ClickHouse server and PostgreSQL to share state)."""
    import asyncio
    import signal

    from rexwatch.logsetup import setup
    from rexwatch.runtime import open_runtime
    from rexwatch.settings import load_settings
    from rexwatch.workers import WORKERS
    from rexwatch.workers.base import build

    if name not in WORKERS:
        fail(f"unknown worker {name!r}; known: {', '.join(WORKERS) or 'none'}", 2)
    try:
        settings = load_settings(obj.config, data_dir=data_dir)
        setup(settings.log_level, settings.log_format)
        runtime = open_runtime(settings)
    except ConfigError as e:
        fail(str(e))

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await build(name, runtime).run(stop)

    try:
        asyncio.run(go())
    finally:
        runtime.close()

"""``rexwatch server``: check settings, lock the data dir, open stores, serve."""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile

from rexwatch.errors import ConfigError
from rexwatch.settings import Settings

log = logging.getLogger("rexwatch")

# Container allocations between young garbage collections in the server (Python's default: 700).
YOUNG_GC_THRESHOLD = 20_000


def private_files() -> None:
    """Files this process creates (control.db, telemetry parts, keys) are readable by its user only.

    They hold webhook URLs, monitor headers and key hashes; 0600 whatever the caller's umask.
    """
    os.umask(0o077)


def check_data_dir(settings: Settings) -> None:
    d = settings.data_dir
    try:
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        # A data dir made by an older version, or by hand, is closed too.
        if d.stat().st_uid == os.getuid():
            d.chmod(0o700)
        with tempfile.NamedTemporaryFile(dir=d, prefix=".write-test-"):
            pass
    except OSError as e:
        raise ConfigError(f"data dir {d} is not writable: {e.strerror}")


def check_auth(settings: Settings) -> None:
    if not settings.loopback_only and settings.auth == "off":
        raise ConfigError(
            f"refusing to serve {settings.host} with auth off: only loopback addresses may run without auth. "
            "Create a key with 'rexwatch keys create --name NAME' and start with auth on (the default)"
        )


def check_port(settings: Settings) -> None:
    listen_socket(settings.host, settings.port).close()
    if settings.otlp_port:
        listen_socket(settings.host, settings.otlp_port).close()


def listen_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn (which listens on it); ConfigError naming the address if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
    except OSError as e:
        s.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}")
    s.set_inheritable(True)
    return s


def serve(settings: Settings) -> int:
    """Run until SIGINT/SIGTERM. Returns the exit code."""
    import gc

    import uvicorn

    from rexwatch.api.app import create_app
    from rexwatch.logsetup import setup
    from rexwatch.runtime import open_runtime
    from rexwatch.server.lock import DataDirLock
    from rexwatch.server.protocol import protocol_class

    setup(settings.log_level, settings.log_format)
    private_files()
    check_auth(settings)
    check_data_dir(settings)
    lock = DataDirLock(settings.data_dir)
    lock.acquire()
    try:
        check_port(settings)
        runtime = open_runtime(settings)
        if settings.auth_enabled and not runtime.keys.any_active():
            log.warning(
                "auth is on and no API key exists yet: create one with 'rexwatch keys create --name NAME'"
            )
        if settings.auth_enabled:
            from rexwatch.services.users import UserService

            users = runtime.service(UserService)
            if not users.any_user():
                log.warning("no user exists yet: create the first admin at %s/setup with setup token %s, "
                            "or run 'rexwatch users create --admin NAME'", settings.base_url, users.setup_token)
        app = create_app(runtime, close_runtime=True)
        config = uvicorn.Config(
            app,
            http=protocol_class(settings.read_timeout_s),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=10,
        )
        server = _Server(config)
        _announce(settings)
        # Everything loaded so far (botocore's models, the app, the settings) lives as long as the
        # process: out of the collector's sight, so a full collection triggered by a large request's
        # many small objects does not walk it all again (it cost a 1,000-item PutMetricData 5 ms).
        gc.freeze()
        # Young collections every YOUNG_GC_THRESHOLD allocations instead of every 700: a 1,000-item
        # call makes some 10,000 containers that live as long as the call, so at 700 each one ran
        # about 15 young collections, promoted its objects and set off a full collection every few
        # calls (about 10 % of the server's CPU for PutMetricData in CBOR; a third of that at this threshold).
        gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])
        if settings.otlp_port:
            # Both ports in one server: the OTLP port answers only the OTLP paths (create_app).
            server.run(sockets=[listen_socket(settings.host, settings.port),
                                listen_socket(settings.host, settings.otlp_port)])
        else:
            server.run()
        return 0
    finally:
        lock.release()


class _Server:
    """uvicorn's server, but SIGINT/SIGTERM end with exit code 0 after a graceful stop.

    uvicorn re-raises the captured signal after shutting down, which makes
    supervisors report a crash; a requested stop is a success here.
    """

    def __new__(cls, config):
        import contextlib
        import signal

        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self):
                previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
                try:
                    yield
                finally:
                    for sig, handler in previous.items():
                        signal.signal(sig, handler)

        return Server(config)


def _announce(settings: Settings) -> None:
    msg = (
        f"rexwatch serving on {settings.base_url} (data {settings.data_dir}, "
        f"auth {'on' if settings.auth_enabled else 'off'}, pid {os.getpid()})"
    )
    print(msg + "\n" + _next_steps(settings), file=sys.stdout, flush=True)
    log.info("server started", extra={"address": settings.base_url, "data_dir": str(settings.data_dir)})


def _next_steps(settings: Settings) -> str:
    """What a new user does next, in another terminal: the CLI on PATH, then the AWS tools."""
    import shutil
    from pathlib import Path

    url = settings.base_url
    lines = [f"  web UI {url}/  ·  API reference {url}/api/v1/docs", "  next, in another terminal:"]
    bin_dir = Path(sys.executable).parent
    on_path = shutil.which("rexwatch")
    if not on_path or Path(on_path).parent.resolve() != bin_dir.resolve():
        lines.append(f'    export PATH="{bin_dir}:$PATH"')
    if url != "http://127.0.0.1:9099":
        lines.append(f"    export REXWATCH_ENDPOINT={url}")
    if settings.auth_enabled:
        from rexwatch.settings import default_data_dir

        where = "" if settings.data_dir == default_data_dir() else f" --data-dir {settings.data_dir}"
        lines.append(f"    rexwatch keys create --name admin{where}   # then export REXWATCH_API_KEY=...")
    lines.append("    rexwatch setup aws && export AWS_PROFILE=rexwatch   # the AWS CLI and boto3 now talk to rexwatch")
    return "\n".join(lines)

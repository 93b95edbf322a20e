"""Options shared by every command, and the client for the native REST API."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import click


@dataclass
class CliContext:
    endpoint: str
    api_key: str
    output: str | None
    config: str | None
    data_dir: str | None

    def client(self) -> ApiClient:
        return ApiClient(self.endpoint, self.api_key)


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(click.style("error: ", fg="red", bold=True) + message, err=True)
    sys.exit(code)


class ApiClient:
    """A thin httpx client for /api/v1 that turns errors into one clear line."""

    def __init__(self, endpoint: str, api_key: str) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.endpoint = endpoint.rstrip("/")
        self._http = httpx.Client(base_url=self.endpoint, headers=headers, timeout=60.0)

    def request(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        try:
            resp = self._http.request(method, path if path.startswith("/") else f"/api/v1/{path}", **kw)
        except httpx.ConnectError:
            fail(f"cannot reach rexwatch at {self.endpoint}: is 'rexwatch server' running?")
        except httpx.TimeoutException:
            fail(f"rexwatch at {self.endpoint} did not answer in time")
        if resp.status_code >= 400:
            try:
                err = resp.json()["error"]
                fail(f"{err['message']} ({err['code']}, HTTP {resp.status_code})")
            except (ValueError, KeyError, TypeError):
                fail(f"HTTP {resp.status_code}: {resp.text[:200]}")
        if not resp.content:
            return None
        ctype = resp.headers.get("content-type", "")
        return resp.json() if "json" in ctype else resp.text

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


def default_endpoint() -> str:
    return os.environ.get("REXWATCH_ENDPOINT") or "http://127.0.0.1:9099"


pass_ctx = click.make_pass_decorator(CliContext)


def open_local_control(obj: CliContext, data_dir: str | None) -> tuple[Any, Any]:
    """The control store and settings of the server whose data dir this machine holds, migrated: for
    the commands that manage accounts without a running server (keys, users, teams)."""
    from rexwatch.errors import ConfigError
    from rexwatch.server.run import private_files
    from rexwatch.settings import load_settings
    from rexwatch.stores.control import connect_control, upgrade

    try:
        settings = load_settings(obj.config, data_dir=data_dir)
        private_files()
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = connect_control(settings.effective_control_url)
        upgrade(engine)
    except ConfigError as e:
        fail(str(e))
    except OSError as e:
        fail(f"data dir is not usable: {e}")
    return engine, settings


def run_or_fail(fn: Any, *args: Any) -> Any:
    """Call ``fn``; a rexwatch error becomes the command's one-line failure."""
    from rexwatch.errors import RexwatchError

    try:
        return fn(*args)
    except RexwatchError as e:
        fail(e.message)

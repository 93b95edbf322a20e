"""Reading back what the SDK sent, from a live rexwatch server, with deadlines instead of sleeps."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from rexwatch.testing import free_port

APPS = Path(__file__).parent / "sdk_apps"


def wait_for(fn: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def log_lines(url: str, group: str, stream_prefix: str | None = None) -> list[dict[str, Any]]:
    """Every JSON line in a group (or [] when the group does not exist yet)."""
    body: dict[str, Any] = {"groups": [group], "start": 0, "limit": 10000}
    if stream_prefix:
        body["stream_prefix"] = stream_prefix
    r = httpx.post(f"{url}/api/v1/logs/filter", json=body, timeout=30)
    if r.status_code == 404:
        return []
    r.raise_for_status()
    out = []
    for e in r.json()["events"]:
        doc = json.loads(e["message"])
        doc["@stream"] = e.get("logStreamName") or e.get("log_stream_name")
        out.append(doc)
    return out


def metric_stats(url: str, namespace: str, name: str, dims: dict[str, str] | None = None) -> dict[str, float]:
    """Sum and SampleCount over the last hour, in one period; {} when there is no data."""
    params: list[tuple[str, str | int]] = [("namespace", namespace), ("metric_name", name), ("start", "1h"),
                                           ("period", 3600 * 2), ("statistics", "Sum"),
                                           ("statistics", "SampleCount"), ("statistics", "Maximum"),
                                           ("statistics", "Minimum")]
    params += [("dimension", f"{k}={v}") for k, v in (dims or {}).items()]
    r = httpx.get(f"{url}/api/v1/metrics/statistics", params=params, timeout=30)
    r.raise_for_status()
    points = r.json().get("datapoints") or r.json().get("Datapoints") or []
    if not points:
        return {}
    total: dict[str, float] = {"Sum": 0.0, "SampleCount": 0.0}
    for p in points:
        total["Sum"] += p.get("Sum", p.get("sum", 0.0))
        total["SampleCount"] += p.get("SampleCount", p.get("sample_count", 0.0))
        total["Maximum"] = max(total.get("Maximum", float("-inf")), p.get("Maximum", p.get("maximum", 0.0)))
        total["Minimum"] = min(total.get("Minimum", float("inf")), p.get("Minimum", p.get("minimum", 0.0)))
    return total


class App:
    def __init__(self, kind: str, endpoint: str, **env: str) -> None:
        self.kind = kind
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.service = f"{kind}-{uuid.uuid4().hex[:6]}"
        self.env = {**os.environ, "PYTHONPATH": f"{APPS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                    "REXWATCH_ENDPOINT": endpoint, "REXWATCH_SERVICE": self.service,
                    "REXWATCH_NAMESPACE": f"Test/{self.service}", "REXWATCH_FLUSH_INTERVAL": "0.3",
                    "REXWATCH_SAMPLE": "/api/v1/noisy=0.5", "APP_CLOSED_PORT": str(free_port()),
                    "APP_VERSION": "1.4.2", **env}
        self.proc = subprocess.Popen([sys.executable, str(APPS / "serve.py"), kind, str(self.port)], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def wait_up(self) -> None:
        # A TCP connect, not a request: a request would count in the app's request metrics, and
        # tests that evaluate alarms want the test's traffic alone there.
        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.kind} app exited: {self.proc.stderr.read()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                    return True
            except OSError:
                return False
        wait_for(up, timeout=120, what=f"{self.kind} app")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()


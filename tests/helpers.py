"""Test helpers shared by test modules: a real server subprocess and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from rexwatch.testing import free_port


class ServerProcess:
    """``rexwatch server`` as a real subprocess."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.env = {**os.environ, **(env or {})}
        self.args = [sys.executable, "-m", "rexwatch", "server", "--data-dir", str(data_dir),
                     "--port", str(self.port), *args]
        self.proc: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> ServerProcess:
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        if wait:
            try:
                self.wait_healthy()
            except BaseException:
                self.stop(9)  # never leave a server running behind a failed start
                raise
        return self

    def wait_healthy(self, timeout: float = 120) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.proc.stderr.read()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not become healthy")

    def stop(self, sig: int = 15, timeout: float = 60) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def run_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed ``rexwatch`` command as a user would."""
    return subprocess.run([sys.executable, "-m", "rexwatch", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=input, timeout=timeout)


def away_from_slot_edges(before_s: float, after_s: float, slot_s: int = 300) -> None:
    """Wait (polling, bounded) until the clock is at least ``before_s`` past the start of a ``slot_s`` slot
    and ``after_s`` before its end: a test that writes events reaching ``before_s`` into the past and then
    evaluates the slot ending next must not have the slot's edge fall between the two."""
    deadline = time.monotonic() + before_s + after_s + 5  # the longest wait there can be, and some
    while not before_s <= time.time() % slot_s <= slot_s - after_s:
        assert time.monotonic() < deadline, "the clock did not leave the slot's edge"
        time.sleep(0.05)

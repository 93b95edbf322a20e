"""What several benches share: waiting for a server they started to answer."""

from __future__ import annotations

import subprocess
import time


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 180, path: str = "/health",
                 what: str = "server") -> None:
    """Poll ``url + path`` until it answers 200 (a loaded shared machine can take a minute to start a
    server); give up when ``proc`` exits or the deadline passes."""
    import httpx  # here, not at the top: the SDK bench measures an app process that never imports it

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url.rstrip('/')}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit(f"{what} did not start")
        time.sleep(0.1)  # polling a starting server, bounded by the deadline

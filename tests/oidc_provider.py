"""Start a real OpenID Connect provider (the npm package oidc-provider, OpenID certified) for tests.

``tests/oidc/provider.mjs`` configures it from a JSON file: clients, and accounts with their
claims. It signs in through the library's development forms (login, then consent). Install
its package with ``make oidc-provider`` (``npm ci`` in tests/oidc); .ci/run does.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent / "oidc"


class OidcProvider:
    def __init__(self, workdir: Path, clients: list[dict[str, Any]], accounts: dict[str, dict[str, Any]]) -> None:
        node = shutil.which("node")
        assert node, "node is not installed: the single sign-on tests run a real OIDC provider on Node.js"
        assert (HERE / "node_modules" / "oidc-provider").is_dir(), (
            "the test OIDC provider is not installed: run 'make oidc-provider' (npm ci in tests/oidc)")
        cfg = workdir / "oidc-provider.json"
        cfg.write_text(json.dumps({"clients": clients, "accounts": accounts}))
        self.proc = subprocess.Popen([node, str(HERE / "provider.mjs"), str(cfg)], cwd=HERE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue[str] = queue.Queue()
        self.errors: list[str] = []

        def pump(stream, sink) -> None:
            for line in stream:
                sink(line.rstrip("\n"))

        threading.Thread(target=pump, args=(self.proc.stdout, lines.put), daemon=True).start()
        threading.Thread(target=pump, args=(self.proc.stderr, self.errors.append), daemon=True).start()
        try:
            # Node starts in well under a second; a loaded CI machine gets a minute.
            first = lines.get(timeout=60)
        except queue.Empty:
            self.stop()
            raise AssertionError(f"the OIDC provider did not start: {self.errors[-5:]}")
        assert first.startswith("READY "), (first, self.errors[-5:])
        self.issuer = first.split(" ", 1)[1]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

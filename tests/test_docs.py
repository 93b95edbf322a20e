"""Docs are checked: every setting and CLI command is documented, and every shell
block of the README and docs/ runs, as written, against a live server.

Each document's shell blocks run in order in one bash process (so a variable or
file made by one block is there for the next, as in a reader's terminal), with
``set -eo pipefail``, against a fresh ``rexwatch server`` of its own. The only
placeholders resolved are the server's address (``127.0.0.1:9099`` becomes the
test server's) and the environment a reader has after the README's first
steps: ``.venv/bin`` on PATH and ``REXWATCH_ENDPOINT``. Nothing else in the
environment points the AWS tools anywhere: ``rexwatch setup aws`` has to.
A block that cannot run here is preceded by ``<!-- not-run: reason -->``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import httpx
import pytest

from helpers import ServerProcess
from rexwatch.cli.main import cli
from rexwatch.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DOC_FILES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
SHELL = {"bash", "sh", "shell"}
NOT_RUN = re.compile(r"^\s*<!--\s*not-run:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^```(\S*)\s*$")


def test_every_setting_is_documented():
    text = (DOCS / "configuration.md").read_text()
    missing = [n for n in Settings.model_fields if f"`{n}`" not in text or f"`REXWATCH_{n.upper()}`" not in text]
    assert missing == []


def _commands(group: click.Group, prefix: str = "rexwatch") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, path))
        else:
            out.append(path)
    return out


def test_every_cli_command_is_documented():
    text = (DOCS / "cli.md").read_text()
    missing = [c for c in _commands(cli) if f"`{c}" not in text]
    assert missing == []


# ------------------------------------------------------------------ running the docs


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence
    lang: str
    text: str
    not_run: str | None


def parse_blocks(path: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = path.read_text().splitlines()
    marker: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        m = NOT_RUN.match(line)
        fence = FENCE.match(line)
        if m:
            assert m.group(1), f"{path.name}:{i + 1}: a not-run marker needs a reason"
            marker = m.group(1)
        elif fence:
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
            assert end is not None, f"{path.name}:{i + 1}: unclosed code block"
            lang = fence.group(1).lower()
            assert marker is None or lang in SHELL, f"{path.name}:{i + 1}: not-run marker before a {lang!r} block"
            blocks.append(Block(path, i + 1, lang, "\n".join(lines[i + 1:end]), marker))
            marker = None
            i = end
        elif line.strip():
            assert marker is None, f"{path.name}:{i + 1}: a not-run marker must sit right before its block"
        i += 1
    assert marker is None, f"{path.name}: a not-run marker at the end names no block"
    return blocks


def runnable(path: Path) -> list[Block]:
    return [b for b in parse_blocks(path) if b.lang in SHELL and b.not_run is None]


def test_docs_run_nearly_every_shell_block():
    """Marking blocks not-run is for the few that cannot run in a test, never a way out."""
    shell = [b for p in DOC_FILES for b in parse_blocks(p) if b.lang in SHELL]
    skipped = [f"{b.path.name}:{b.line} ({b.not_run})" for b in shell if b.not_run]
    assert len(shell) - len(skipped) >= 20, skipped
    assert len(skipped) * 4 <= len(shell), skipped
    assert len(runnable(ROOT / "README.md")) >= 10


def _script(blocks: list[Block], port: int) -> str:
    parts = ["set -eo pipefail"]
    for b in blocks:
        text = b.text.replace("127.0.0.1:9099", f"127.0.0.1:{port}").replace("localhost:9099", f"localhost:{port}")
        parts += [f"echo '@@ {b.path.name}:{b.line}' >&2", text]
    return "\n".join(parts) + "\n"


def _failed_block(blocks: list[Block], stderr: str) -> Block | None:
    marks = re.findall(r"^@@ \S+:(\d+)$", stderr, re.M)
    return next((b for b in blocks if marks and b.line == int(marks[-1])), None)


def run_doc(path: Path, tmp: Path) -> tuple[ServerProcess, subprocess.CompletedProcess]:
    data, home, work = tmp / "data", tmp / "home", tmp / "work"
    home.mkdir()
    work.mkdir()
    # The prober stays off: the docs' monitors name hosts that tests must never contact.
    # Warnings only: nobody reads the server's pipes while the document runs.
    # No smtp_host, as a new user has: mail goes to the server's local mailbox.
    sp = ServerProcess(data, env={"REXWATCH_WORKERS": "retention,notify,alarms", "REXWATCH_LOG_LEVEL": "warning"})
    sp.start(wait=False)
    try:
        sp.wait_healthy(timeout=300)  # a deadline for a loaded machine, not a speed goal
    except BaseException:
        sp.stop(9)
        raise
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REXWATCH_"))}
    env.update(PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}", HOME=str(home),
               REXWATCH_ENDPOINT=sp.url, REXWATCH_DATA_DIR=str(data))
    blocks = runnable(path)
    r = subprocess.run(["bash", "-c", _script(blocks, sp.port)], cwd=work, env=env, capture_output=True,
                       text=True, timeout=1500)
    if r.returncode != 0:
        failed = _failed_block(blocks, r.stderr)
        where = f"{failed.path.name}:{failed.line}\n{failed.text}" if failed else "?"
        sp.stop()
        pytest.fail(f"block {where}\nexit {r.returncode}\nstderr:\n{r.stderr[-3000:]}\nstdout:\n{r.stdout[-2000:]}")
    return sp, r


def _check_readme(sp: ServerProcess, r: subprocess.CompletedProcess, tmp: Path) -> None:
    config = (tmp / "home" / ".aws" / "config").read_text()
    assert f"endpoint_url = {sp.url}" in config
    # The boto3 snippets reached the server through the profile alone.
    assert "/aws/ecs/utm-api" in r.stdout
    # The ACCOUNT placeholder is stored as the real account id.
    alarm = httpx.get(f"{sp.url}/api/v1/alarms/utm-api-latency").json()
    assert json.dumps(alarm).count("arn:aws:sns:us-east-1:000000000000:utm-alerts") >= 1
    assert "ACCOUNT" not in json.dumps(alarm)
    # The backtest sees the published latency: OK first, then ALARM in the slow spell.
    bt = httpx.post(f"{sp.url}/api/v1/alarms/utm-api-latency/backtest", params={"since": "1h"}).json()
    assert [t["new"] for t in bt["transitions"]][:2] == ["OK", "ALARM"]
    # The subscription was confirmed from its mail, and sns test-topic's mail is in the local mailbox.
    subs = httpx.get(f"{sp.url}/api/v1/subscriptions").json()
    assert [(s["endpoint"], s["status"]) for s in subs] == [("ops@yourdomain.com", "confirmed")]
    mails = httpx.get(f"{sp.url}/api/v1/mail", params={"to": "ops@yourdomain.com"}).json()
    assert {m["kind"] for m in mails} == {"SubscriptionConfirmation", "Notification"}
    assert any(m["subject"] == "rexwatch test" for m in mails)


CHECKS = {"README.md": _check_readme}


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a document is many AWS CLI runs: a deadline for a loaded machine
@pytest.mark.parametrize("path", [p for p in DOC_FILES if runnable(p)], ids=lambda p: p.name)
def test_doc_runs_as_written(path: Path, tmp_path: Path):
    sp, r = run_doc(path, tmp_path)
    try:
        if path.name in CHECKS:
            CHECKS[path.name](sp, r, tmp_path)
    finally:
        assert sp.stop() == 0

"""Docs are checked: every setting and every CLI command is documented."""

from __future__ import annotations

from pathlib import Path

import click

from rexwatch.cli.main import cli
from rexwatch.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


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

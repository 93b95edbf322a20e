"""Rendering results: rich tables in a terminal, JSON or text for scripts."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click
import orjson


def want_json(fmt: str | None) -> bool:
    return fmt == "json" or (fmt is None and not sys.stdout.isatty())


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def print_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    fmt: str | None = None,
    title: str | None = None,
    styles: dict[str, Any] | None = None,
) -> None:
    """``fmt`` json prints the rows, text prints tab-separated lines, else a rich table."""
    if want_json(fmt) and fmt != "table":
        print_json(list(rows))
        return
    if fmt == "text":
        for r in rows:
            print("\t".join("" if r.get(c) is None else str(r.get(c)) for c in columns))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, header_style="bold cyan")
    for c in columns:
        table.add_column(c)
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            text = "" if v is None else str(v)
            style = (styles or {}).get(c)
            if callable(style):
                style = style(v)
            cells.append(f"[{style}]{text}[/]" if style else text)
        table.add_row(*cells)
    Console().print(table)


def print_apply_result(fmt: str | None, result: dict[str, list[str]]) -> None:
    """What an idempotent ``apply`` did: counts and names per outcome (``deleted`` only when it happened)."""
    if want_json(fmt):
        print_json(result)
        return
    for key in ("created", "updated", "unchanged", "deleted"):
        if result[key] or key != "deleted":
            click.echo(f"{key}: {len(result[key])}" + (f" ({', '.join(result[key])})" if result[key] else ""))

"""What the AWS-mirrored groups know about operations: the AWS CLI's own
operation table (its flags come from botocore's service model), which of them
the server implements (the AWS door's handler registry), generated help, and
suggestions for mistyped names.

Everything here needs the server extra (awscli, and the door's modules for the
registry); callers import this module lazily.
"""

from __future__ import annotations

import difflib
import functools
import html.parser
import re
from collections.abc import Iterable
from typing import Any

import click

DOCS_LINK = "docs/aws-compatibility.md"


@functools.cache
def driver() -> Any:
    from awscli.clidriver import create_clidriver

    return create_clidriver()


@functools.cache
def operations(service: str) -> dict[str, Any]:
    """The AWS CLI's operations of ``service`` by CLI name (``create-log-group``)."""
    return dict(driver()._get_command_table()[service]._get_command_table())


@functools.cache
def implemented(service: str) -> frozenset[str]:
    """Operation names (``CreateLogGroup``) the server has a handler for."""
    import importlib

    from rexwatch import aws

    for module in aws.SERVICE_MODULES:
        importlib.import_module(module)
    from rexwatch.aws.registry import HANDLERS

    return frozenset(op for (svc, op) in HANDLERS if svc == service)


def operation_model(service: str, cli_name: str) -> Any | None:
    """botocore's model of the operation, or None for AWS CLI commands that are no single
    operation (``wait``, streaming customizations)."""
    return getattr(operations(service)[cli_name], "_operation_model", None)


def implemented_cli_names(service: str) -> list[str]:
    done = implemented(service)
    return sorted(n for n in operations(service) if (m := operation_model(service, n)) and m.name in done)


def suggestions(service: str, name: str, own: Iterable[str]) -> list[str]:
    """Close matches among the operations rexwatch implements and its own commands."""
    candidates = [*implemented_cli_names(service), *own]
    close = difflib.get_close_matches(name, candidates, n=4, cutoff=0.6)
    if not close:  # 'alarms' -> describe-alarms, put-metric-alarm …
        close = sorted(c for c in candidates if name in c)[:4]
    return close


def summary(service: str, cli_name: str) -> str:
    """The first sentence of an operation's documentation."""
    model = operation_model(service, cli_name)
    paras = paragraphs(model.documentation if model else "")
    if not paras:
        return ""
    first = paras[0]
    cut = first.find(". ")
    return first[: cut + 1] if cut > 0 else first


# ------------------------------------------------------------------ relative times


def resolve_relative_times(service: str, cli_name: str, args: list[str]) -> list[str]:
    """Turn ``--start-time 1h`` / ``now`` into ISO-8601 for the operation's timestamp parameters.

    Only values the AWS CLI would refuse are rewritten (a relative duration or
    ``now``), so every AWS-valid argument passes through untouched.
    """
    from rexwatch.errors import Invalid
    from rexwatch.timeparse import parse_duration, parse_time

    def relative(value: str) -> bool:
        if value.strip().lower() == "now":
            return True
        try:
            parse_duration(value)
        except Invalid:
            return False
        return True

    table = operations(service)[cli_name].arg_table
    # put-metric-data's --timestamp is an AWS CLI customization typed as a plain string.
    stamps = {f"--{n}" for n, a in table.items() if n == "timestamp" or (
        a.argument_model is not None and a.argument_model.type_name == "timestamp")}
    out = list(args)
    for i, arg in enumerate(out[:-1]):
        value = out[i + 1]
        if arg in stamps and relative(value):
            out[i + 1] = parse_time(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


# ------------------------------------------------------------------ help


class _Text(html.parser.HTMLParser):
    """botocore documentation is HTML: keep the words, paragraphs and list items."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.in_item = False  # a <p> right inside an <li> continues the item

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "li":
            self.parts.append("\n\n- ")
            self.in_item = True
        elif tag in ("p", "ul", "ol", "note", "important") and not self.in_item:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.in_item = False
        self.parts.append(data)


def paragraphs(doc: str | None) -> list[str]:
    parser = _Text()
    parser.feed(doc or "")
    text = "".join(parser.parts)
    return [re.sub(r"\s+", " ", p).strip() for p in text.split("\n\n") if p.strip()]


def _lead(paras: list[str], budget: int) -> list[str]:
    """The first paragraphs within ``budget`` characters; a paragraph ending in ':' keeps its list."""
    out: list[str] = []
    for para in paras:
        continues = bool(out) and (out[-1].endswith(":") or (para.startswith("- ") and out[-1].startswith("- ")))
        if out and sum(map(len, out)) + len(para) > budget and not continues:
            break
        out.append(para)
    return out


def _first_sentences(doc: str | None, limit: int = 240) -> str:
    paras = paragraphs(doc)
    if not paras:
        return ""
    text = paras[0]
    if text.endswith(":"):  # "There are three classes:" and its list, inline
        items = [p[2:] for p in paras[1:] if p.startswith("- ")]
        text = f"{text} {'; '.join(items[:6])}"
    if len(text) <= limit:
        return text
    cut = text.rfind(". ", 0, limit)
    return text[: cut + 1] if cut > 0 else text[:limit].rstrip() + " …"


def _type_of(arg: Any) -> str:
    model = arg.argument_model
    if model is None:
        return arg.cli_type_name
    kind = model.type_name
    if kind == "list":
        member = model.member
        if member.type_name == "structure":
            return "list of {" + ", ".join(list(member.members)[:4]) + (", …}" if len(member.members) > 4 else "}")
        return f"list of {member.type_name}"
    if kind == "structure":
        return "{" + ", ".join(list(model.members)[:4]) + (", …}" if len(model.members) > 4 else "}")
    if kind == "map":
        return f"map {model.key.type_name} -> {model.value.type_name}"
    if kind == "timestamp":
        return "timestamp (ISO-8601, epoch, or 1h / now)"
    return kind


_GLOBAL_ARGS = ("cli-input-json", "generate-cli-skeleton", "starting-token", "page-size", "max-items")


def _write_usage(fmt: click.HelpFormatter, path: str, tokens: list[str]) -> None:
    """A usage line that wraps between flags, never inside one (click's wrapping breaks at hyphens)."""
    lead = f"Usage: {path}"
    lines, line = [], lead
    for tok in tokens:
        if len(line) + 1 + len(tok) > (fmt.width or 80) and line.strip():
            lines.append(line)
            line = " " * 7
        line += " " + tok
    lines.append(line)
    fmt.write("\n".join(lines) + "\n\n")


def render_help(ctx: click.Context, service: str, cli_name: str) -> str:
    """Help for one mirrored operation, from the AWS CLI's argument table and botocore's docs."""
    from rexwatch.cli.aws_compat import note_for

    op = operations(service)[cli_name]
    model = operation_model(service, cli_name)
    if model is None:
        fmt = ctx.make_formatter()
        fmt.write_usage(ctx.command_path, "...")
        fmt.write_paragraph()
        with fmt.indentation():
            fmt.write_text(
                f"'aws {service} {cli_name}' is an AWS CLI command, not a single API operation; rexwatch "
                f"runs it with the AWS CLI's arguments. The operations it calls must be implemented: see "
                f"'rexwatch {service} --help' and {DOCS_LINK}."
            )
        return fmt.getvalue()
    supported = model.name in implemented(service)
    table = op.arg_table
    required = [n for n, a in table.items() if a.required]
    fmt = ctx.make_formatter()
    _write_usage(fmt, ctx.command_path, [*(f"--{n} <value>" for n in required), "[options]"])
    with fmt.indentation():
        status = (f"AWS {model.service_model.metadata['serviceId']} {model.name}, implemented by rexwatch."
                  if supported else
                  f"AWS {model.service_model.metadata['serviceId']} {model.name}: NOT implemented by rexwatch; "
                  f"the server answers it with an error. See {DOCS_LINK}.")
        fmt.write_text(status)
        note = note_for(service, model.name)
        if note:
            fmt.write_paragraph()
            fmt.write_text(f"rexwatch: {note}")
        for para in _lead(paragraphs(model.documentation), 900):
            fmt.write_paragraph()
            fmt.write_text(para)
    rows = []
    for name, arg in table.items():
        if name in _GLOBAL_ARGS or (name.startswith("no-") and name[3:] in table):
            continue
        flag = f"--{name}" + (f" | --no-{name}" if f"no-{name}" in table else "")
        doc = _first_sentences(arg.documentation)
        rows.append((flag, f"({_type_of(arg)}){' [required]' if arg.required else ''} {doc}".strip()))
    if rows:
        with fmt.section("Options"):
            fmt.write_dl(rows)
    paged = [f"--{n}" for n in ("starting-token", "page-size", "max-items") if n in table]
    with fmt.section("AWS CLI options"):
        fmt.write_text(
            "--output json|table|text, --query JMESPATH, --cli-input-json, --generate-cli-skeleton"
            + (", " + ", ".join(paged) if paged else "")
            + "; rexwatch's --endpoint and --api-key go before the group name."
        )
    return fmt.getvalue()

"""Command nodes: one per pipeline stage, and the query that holds them."""

from __future__ import annotations

from dataclasses import dataclass

from rexwatch.lang.insights.ast.expressions import Expr, Field, Regex


@dataclass(frozen=True, slots=True)
class Command:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Projection:
    """``expr [as alias]``; ``name`` is the alias, or the source text as Insights shows it."""

    expr: Expr
    name: str
    aliased: bool


@dataclass(frozen=True, slots=True)
class Fields(Command):
    items: tuple[Projection, ...]


@dataclass(frozen=True, slots=True)
class Display(Command):
    items: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class Filter(Command):
    condition: Expr


@dataclass(frozen=True, slots=True)
class Stats(Command):
    aggregates: tuple[Projection, ...]
    by: tuple[Projection, ...]


@dataclass(frozen=True, slots=True)
class SortKey:
    expr: Expr
    descending: bool


@dataclass(frozen=True, slots=True)
class Sort(Command):
    keys: tuple[SortKey, ...]


@dataclass(frozen=True, slots=True)
class Limit(Command):
    count: int


@dataclass(frozen=True, slots=True)
class Parse(Command):
    """``parse FIELD "glob * text" as a, b`` or ``parse FIELD /(?<a>re)/``."""

    source: Expr
    glob: str | None
    regex: Regex | None
    names: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class Dedup(Command):
    items: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class Pattern(Command):
    source: Expr


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    commands: tuple[Command, ...]

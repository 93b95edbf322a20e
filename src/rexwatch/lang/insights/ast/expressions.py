"""Expression nodes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Expr:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Field(Expr):
    """A field reference: ``@timestamp``, ``path``, ``a.b.0.c`` or ```odd name```."""

    name: str


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    """A string, number or boolean constant."""

    value: str | int | float | bool


@dataclass(frozen=True, slots=True)
class Regex(Expr):
    """``/pattern/`` (RE2 syntax, as ClickHouse runs it)."""

    pattern: str


@dataclass(frozen=True, slots=True)
class Duration(Expr):
    """A time period such as ``5m`` (only valid as an argument of bin/datefloor/dateceil)."""

    amount: int
    unit: str  # canonical: ms s m h d w mo q y


@dataclass(frozen=True, slots=True)
class Star(Expr):
    """The ``*`` of ``count(*)``."""


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    op: str  # "not" | "-"
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    """Arithmetic (+ - * / % ^), comparison (= != < <= > >=) and logic (and, or)."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Like(Expr):
    """``x like /re/``, ``x like "text"``, ``x =~ /re/`` and their ``not`` forms."""

    operand: Expr
    pattern: Expr  # Regex or Literal(str)
    negated: bool


@dataclass(frozen=True, slots=True)
class InList(Expr):
    operand: Expr
    items: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class Call(Expr):
    """A function call; ``name_end`` marks the name for errors about the function itself."""

    name: str
    args: tuple[Expr, ...]
    name_end: int

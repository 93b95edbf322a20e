"""SEARCH expression tree: a schema and a boolean expression of terms and properties."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """A word or quoted phrase that must appear in the metric name, namespace or a dimension value."""

    text: str  # lower case: terms match case-insensitively
    pos: int


@dataclass(frozen=True)
class Prop:
    """``Name=value``: ``MetricName``, ``Namespace`` or a dimension must equal ``value`` exactly."""

    name: str
    value: str
    pos: int


@dataclass(frozen=True)
class Not:
    operand: Expr


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


Expr = Term | Prop | Not | And | Or


@dataclass(frozen=True)
class Schema:
    """``{Namespace,Dim1,Dim2}``: the namespace and the exact set of dimension names."""

    namespace: str
    dimensions: tuple[str, ...]  # sorted
    pos: int

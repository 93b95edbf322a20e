"""Metric-math syntax tree: frozen dataclasses; ``pos`` is the offset of the node's token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Num:
    value: float
    pos: int


@dataclass(frozen=True)
class Str:
    value: str
    pos: int


@dataclass(frozen=True)
class Ref:
    """An id of another query (``m1``) or a keyword argument such as ``REPEAT``."""

    name: str
    pos: int


@dataclass(frozen=True)
class Call:
    name: str  # upper case
    args: tuple
    pos: int


@dataclass(frozen=True)
class ListExpr:
    items: tuple
    pos: int


@dataclass(frozen=True)
class Unary:
    op: str
    operand: object
    pos: int


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / ^ < <= > >= == != AND OR
    left: object
    right: object
    pos: int  # the operator's offset


Node = Num | Str | Ref | Call | ListExpr | Unary | Binary


def children(node: Node) -> tuple:
    if isinstance(node, Call):
        return node.args
    if isinstance(node, ListExpr):
        return node.items
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    return ()


def walk(node: Node) -> Iterator[Node]:
    """Every node under ``node``, itself first (iterative: no recursion limit)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))

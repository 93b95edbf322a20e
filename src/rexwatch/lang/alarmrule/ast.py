"""Composite alarm rule syntax tree. ``And``/``Or`` hold every operand of a chain, so a long
``ALARM(a) OR ALARM(b) OR …`` is one flat node, not a deep one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Const:
    value: bool


@dataclass(frozen=True)
class StateIs:
    """``ALARM(name)``, ``OK(name)`` or ``INSUFFICIENT_DATA(name)``."""

    state: str
    alarm: str
    pos: int


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Const | StateIs | Not | And | Or

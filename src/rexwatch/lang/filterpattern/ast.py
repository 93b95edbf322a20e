"""The filter-pattern syntax tree: plain frozen dataclasses.

Both back ends walk the same tree: ``sqlgen`` renders it as a ClickHouse
boolean expression and ``pyeval`` evaluates it against one message in Python.
Every node records ``span`` (start, end offsets in the pattern text) so later
checks can point at the construct they reject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rexwatch.lang.jsontext import WILDCARD

Span = tuple[int, int]


@dataclass(frozen=True)
class Node:
    span: Span = field(default=(0, 0), compare=False, kw_only=True)


# -- values on the right of a comparison ---------------------------------------


@dataclass(frozen=True)
class StringValue(Node):
    """A string, quoted or bare. ``*`` anywhere is a wildcard (``glob``)."""

    text: str

    @property
    def glob(self) -> bool:
        return "*" in self.text

    @property
    def any(self) -> bool:
        """The value is only wildcards: it matches any value, i.e. the field exists."""
        return bool(self.text) and set(self.text) == {"*"}


@dataclass(frozen=True)
class NumberValue(Node):
    """A bare number: compared numerically."""

    value: float
    text: str


@dataclass(frozen=True)
class RegexValue(Node):
    """``%regex%``: an unanchored regular-expression search."""

    pattern: str


Value = StringValue | NumberValue | RegexValue


# -- boolean structure ----------------------------------------------------------


@dataclass(frozen=True)
class And(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    item: Node


# -- unstructured text ----------------------------------------------------------


@dataclass(frozen=True)
class Term(Node):
    """A word or quoted phrase that must occur on word boundaries (case-sensitive)."""

    text: str


@dataclass(frozen=True)
class Regex(Node):
    """``%regex%`` over the whole message."""

    pattern: str


# -- JSON -----------------------------------------------------------------------


@dataclass(frozen=True)
class Selector(Node):
    """``$.a.b[0]``, ``$.tags[*]``, ``$.['a.b']``: object keys (str), array indexes (int, from 0)
    and at most one ``WILDCARD`` (any element of an array, any value of an object)."""

    path: tuple[Any, ...]

    @property
    def wildcard(self) -> int | None:
        """Where the wildcard is in ``path``, if there is one."""
        return next((i for i, p in enumerate(self.path) if p is WILDCARD), None)

    @property
    def indexable(self) -> bool:
        """The path can be spelled as a key of the store's ``fields`` map (``a.b[0]``)."""
        return self.wildcard is None and all(
            isinstance(p, int) or (p and not set(p) & {".", "[", "]"}) for p in self.path
        )

    @property
    def dotted(self) -> str:
        """The path as the store keys extracted fields: ``a.b``, ``a[0].b`` (see ``indexable``)."""
        out = ""
        for part in self.path:
            if isinstance(part, int):
                out += f"[{part}]"
            else:
                out += ("." if out else "") + str(part)
        return out

    @property
    def text(self) -> str:
        out = "$"
        for part in self.path:
            if part is WILDCARD:
                out += "[*]"
            elif isinstance(part, int):
                out += f"[{part}]"
            elif part and not set(part) & set(".[]*'\" (){},=!<>&|%") and not part[0].isspace():
                out += "." + part
            else:
                out += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
        return out


@dataclass(frozen=True)
class JsonCompare(Node):
    """``selector op value``; op is one of = != < <= > >=."""

    selector: Selector
    op: str
    value: Value


@dataclass(frozen=True)
class JsonIs(Node):
    """``selector IS NULL | IS TRUE | IS FALSE | NOT EXISTS``."""

    selector: Selector
    what: str  # "NULL", "TRUE", "FALSE", "NOT EXISTS"


# -- space-delimited ------------------------------------------------------------


@dataclass(frozen=True)
class FieldCompare(Node):
    """A condition on one field of a space-delimited pattern: ``status = 4*``."""

    name: str
    op: str
    value: Value


@dataclass(frozen=True)
class Slot(Node):
    """One position of a space-delimited pattern: a named field, or ``...`` (name None)."""

    name: str | None
    cond: Node | None = None

    @property
    def ellipsis(self) -> bool:
        return self.name is None


# -- whole patterns -------------------------------------------------------------


@dataclass(frozen=True)
class MatchAll(Node):
    """The empty pattern: every event matches."""


@dataclass(frozen=True)
class TextPattern(Node):
    """Terms, phrases, ``?term``, ``-term`` and ``%regex%`` over the raw message."""

    expr: Node


@dataclass(frozen=True)
class JsonPattern(Node):
    """``{ ... }``: matches JSON events only."""

    expr: Node


@dataclass(frozen=True)
class DelimitedPattern(Node):
    """``[a, b, ..., c = 1]``: matches events split into space-delimited fields."""

    slots: tuple[Slot, ...]

    @property
    def segments(self) -> list[list[Slot]]:
        """Runs of named slots between ellipses (first and last may be empty)."""
        segs: list[list[Slot]] = [[]]
        for slot in self.slots:
            if slot.ellipsis:
                segs.append([])
            else:
                segs[-1].append(slot)
        if len(segs) > 2:  # "..., ..." is one ellipsis: drop empty runs between them
            segs = [segs[0], *(s for s in segs[1:-1] if s), segs[-1]]
        return segs


Pattern = MatchAll | TextPattern | JsonPattern | DelimitedPattern


def walk(node: Node):
    """Every node under ``node`` (itself included), depth first."""
    yield node
    for name in getattr(node, "__dataclass_fields__", {}):
        value = getattr(node, name)
        children = value if isinstance(value, tuple) else (value,)
        for child in children:
            if isinstance(child, Node):
                yield from walk(child)

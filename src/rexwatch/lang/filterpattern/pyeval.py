"""Evaluate a pattern against one message in Python, with the SQL generator's semantics.

Used where there is no table to query (TestMetricFilter, metric filters and
subscription filters on events as they arrive) and as the reference the
differential tests hold the generated SQL to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rexwatch.lang.filterpattern import ast
from rexwatch.lang.filterpattern.values import (
    DELIMITED_FIELD_RE,
    glob_regex,
    rest_regex,
    to_number,
    verbatim_tokens,
)
from rexwatch.lang.jsontext import MISSING, flatten, lookup, parse_json, select_all, text_form

_SEP = r"\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f"
_FIELD_RE = re.compile(DELIMITED_FIELD_RE)
_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@lru_cache(maxsize=1024)
def _term_regex(text: str) -> re.Pattern[str]:
    left = "(?:^|(?<=[" + _SEP + "]))" if _tok(text[0]) else ""
    right = r"(?=\Z|[" + _SEP + "])" if _tok(text[-1]) else ""
    return re.compile(left + re.escape(text) + right)


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(_as_re2(pattern), re.ASCII)


def _as_re2(pattern: str) -> str:
    """Python's ``$`` also matches before a final newline; RE2's (ClickHouse's) does not."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        out.append(r"\Z" if ch == "$" and not in_class else ch)
        i += 1
    return "".join(out)


def _tok(ch: str) -> bool:
    return not ch.isascii() or ch.isalnum()


def split_fields(message: str) -> list[str]:
    """A message's space-delimited fields, enclosing quotes or brackets removed."""
    out = []
    for f in _FIELD_RE.findall(message):
        if len(f) >= 2 and ((f[0] == '"' and f[-1] == '"') or (f[0] == "[" and f[-1] == "]")):
            f = f[1:-1]
        out.append(f)
    return out


def compare_text(text: str | None, op: str, value: ast.Value) -> bool:
    """A comparison on a text form (None: missing or not a scalar)."""
    if text is None:
        return False
    if isinstance(value, ast.NumberValue):
        n = to_number(text)
        return n is not None and _CMP[op](n, value.value)
    if isinstance(value, ast.RegexValue):
        found = _regex(value.pattern).search(text) is not None
        return found if op == "=" else not found
    if value.any:
        return op == "="
    if value.glob:
        hit = glob_regex(value.text).fullmatch(text) is not None
        return hit if op == "=" else not hit
    return text == value.text if op == "=" else text != value.text


@dataclass
class Context:
    message: str
    parsed: bool = False
    ok: bool = False
    doc: Any = None
    cells: dict[str, str] = field(default_factory=dict)

    def json(self) -> tuple[bool, Any]:
        if not self.parsed:
            self.ok, self.doc = parse_json(self.message)
            self.parsed = True
        return self.ok, self.doc


class Evaluator:
    TRANSFORMS: dict[type, Callable[[Evaluator, ast.Node, Context], bool]] = {}

    def evaluate(self, node: ast.Node, ctx: Context) -> bool:
        return self.TRANSFORMS[type(node)](self, node, ctx)

    def and_(self, node: ast.And, ctx: Context) -> bool:
        return all(self.evaluate(i, ctx) for i in node.items)

    def or_(self, node: ast.Or, ctx: Context) -> bool:
        return any(self.evaluate(i, ctx) for i in node.items)

    def not_(self, node: ast.Not, ctx: Context) -> bool:
        return not self.evaluate(node.item, ctx)

    def matchall(self, node: ast.MatchAll, ctx: Context) -> bool:
        return True

    def textpattern(self, node: ast.TextPattern, ctx: Context) -> bool:
        return self.evaluate(node.expr, ctx)

    def term(self, node: ast.Term, ctx: Context) -> bool:
        # A substring test rejects most messages before the word-boundary regex runs.
        return node.text in ctx.message and _term_regex(node.text).search(ctx.message) is not None

    def regex(self, node: ast.Regex, ctx: Context) -> bool:
        return _regex(node.pattern).search(ctx.message) is not None

    def jsonpattern(self, node: ast.JsonPattern, ctx: Context) -> bool:
        ok, _ = ctx.json()
        return ok and self.evaluate(node.expr, ctx)

    def jsoncompare(self, node: ast.JsonCompare, ctx: Context) -> bool:
        values = _selected(ctx, node.selector)
        if isinstance(node.value, ast.StringValue) and node.value.any:
            return bool(values) and node.op == "="
        if node.op == "=" and isinstance(node.value, ast.StringValue):
            words = verbatim_tokens(node.value.text)
            if words and not all(_term_regex(w).search(ctx.message) for w in words):
                return False
        return any(compare_text(text_form(v), node.op, node.value) for v in values)

    def jsonis(self, node: ast.JsonIs, ctx: Context) -> bool:
        ok, _ = ctx.json()
        values = _selected(ctx, node.selector)
        if node.what == "NOT EXISTS":
            return ok and not values
        want = {"NULL": None, "TRUE": True, "FALSE": False}[node.what]
        return any(v is want for v in values)

    def delimitedpattern(self, node: ast.DelimitedPattern, ctx: Context) -> bool:
        cells = bind_fields(node, ctx.message, self)
        if cells is None:
            return False
        ctx.cells = cells
        return True

    def fieldcompare(self, node: ast.FieldCompare, ctx: Context) -> bool:
        return compare_text(ctx.cells.get(node.name), node.op, node.value)


def _selected(ctx: Context, sel: ast.Selector) -> list[Any]:
    """The values a selector picks in the event (several for a wildcard, none when absent)."""
    _, doc = ctx.json()
    if sel.wildcard is not None:
        return select_all(doc, sel.path)
    value = lookup(doc, sel.path)
    return [] if value is MISSING else [value]


def _slot_ok(ev: Evaluator, slot: ast.Slot, cell: str) -> bool:
    if slot.cond is None:
        return True
    return ev.evaluate(slot.cond, Context("", cells={slot.name or "": cell}))


def bind_fields(node: ast.DelimitedPattern, message: str, ev: Evaluator) -> dict[str, str] | None:
    """Names bound to fields, or None. Floating runs between ellipses take the leftmost fit."""
    fields = split_fields(message)
    segs = node.segments
    total = sum(len(s) for s in segs)
    if len(fields) < total:
        return None
    out: dict[str, str] = {}
    if len(segs) == 1:
        # No ellipsis: the fields bind in order, and the last one takes the rest of the line.
        slots = segs[0]
        cells = fields[: total - 1]
        if len(fields) == total:
            cells.append(fields[-1])
        else:
            cells.append(_rest_regex(total - 1).match(message).group(1))  # type: ignore[union-attr]
        for slot, cell in zip(slots, cells, strict=True):
            if not _slot_ok(ev, slot, cell):
                return None
            out[slot.name or ""] = cell
        return out
    head, tail, middle = segs[0], segs[-1], segs[1:-1]
    for i, slot in enumerate(head):
        if not _slot_ok(ev, slot, fields[i]):
            return None
        out[slot.name or ""] = fields[i]
    for j, slot in enumerate(tail):
        cell = fields[len(fields) - len(tail) + j]
        if not _slot_ok(ev, slot, cell):
            return None
        out[slot.name or ""] = cell
    # Runs between ellipses: placing each at its leftmost fit leaves the most room
    # for the runs after it, so the greedy scan finds a binding whenever one exists.
    lo, end = len(head), len(fields) - len(tail)
    for seg in middle:
        for p in range(lo, end - len(seg) + 1):
            if all(_slot_ok(ev, s, fields[p + i]) for i, s in enumerate(seg)):
                out.update({s.name or "": fields[p + i] for i, s in enumerate(seg)})
                lo = p + len(seg)
                break
        else:
            return None
    return out


@lru_cache(maxsize=256)
def _rest_regex(skip: int) -> re.Pattern[str]:
    return re.compile(rest_regex(skip))


Evaluator.TRANSFORMS = {
    ast.And: Evaluator.and_,
    ast.Or: Evaluator.or_,
    ast.Not: Evaluator.not_,
    ast.MatchAll: Evaluator.matchall,
    ast.TextPattern: Evaluator.textpattern,
    ast.JsonPattern: Evaluator.jsonpattern,
    ast.DelimitedPattern: Evaluator.delimitedpattern,
    ast.Term: Evaluator.term,
    ast.Regex: Evaluator.regex,
    ast.JsonCompare: Evaluator.jsoncompare,
    ast.JsonIs: Evaluator.jsonis,
    ast.FieldCompare: Evaluator.fieldcompare,
}

_EVALUATOR = Evaluator()


def match(pattern: ast.Pattern, message: str) -> bool:
    return _EVALUATOR.evaluate(pattern, Context(message))


def extract(pattern: ast.Pattern, message: str) -> dict[str, str] | None:
    """Values the pattern binds when it matches ``message``; None when it does not.

    JSON patterns bind every scalar field of the event as ``$.path``: a metric
    filter may take its value or dimensions from fields the pattern does not
    test. Space-delimited patterns bind their field names. Others bind nothing.
    """
    ctx = Context(message)
    if not _EVALUATOR.evaluate(pattern, ctx):
        return None
    if isinstance(pattern, ast.JsonPattern):
        _, doc = ctx.json()
        return {f"$.{k}": v for k, v in flatten(doc).items()}
    if isinstance(pattern, ast.DelimitedPattern):
        return dict(ctx.cells)
    return {}

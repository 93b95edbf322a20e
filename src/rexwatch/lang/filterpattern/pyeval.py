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
    MISSING,
    flatten,
    glob_regex,
    lookup,
    parse_json,
    text_form,
    to_number,
)

_SEP = r"\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f"
_FIELD_RE = re.compile(r'"[^"]*"|\[[^\]]*\]|\S+')
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
        return _term_regex(node.text).search(ctx.message) is not None

    def regex(self, node: ast.Regex, ctx: Context) -> bool:
        return _regex(node.pattern).search(ctx.message) is not None

    def jsonpattern(self, node: ast.JsonPattern, ctx: Context) -> bool:
        ok, _ = ctx.json()
        return ok and self.evaluate(node.expr, ctx)

    def jsoncompare(self, node: ast.JsonCompare, ctx: Context) -> bool:
        _, doc = ctx.json()
        value = lookup(doc, node.selector.path)
        if isinstance(node.value, ast.StringValue) and node.value.any:
            return value is not MISSING and node.op == "="
        return compare_text(text_form(value) if value is not MISSING else None, node.op, node.value)

    def jsonis(self, node: ast.JsonIs, ctx: Context) -> bool:
        ok, doc = ctx.json()
        value = lookup(doc, node.selector.path)
        if node.what == "NULL":
            return value is None
        if node.what == "TRUE":
            return value is True
        if node.what == "FALSE":
            return value is False
        return ok and value is MISSING

    def delimitedpattern(self, node: ast.DelimitedPattern, ctx: Context) -> bool:
        cells = bind_fields(node, split_fields(ctx.message), self)
        if cells is None:
            return False
        ctx.cells = cells
        return True

    def fieldcompare(self, node: ast.FieldCompare, ctx: Context) -> bool:
        return compare_text(ctx.cells.get(node.name), node.op, node.value)


def _slot_ok(ev: Evaluator, slot: ast.Slot, cell: str) -> bool:
    if slot.cond is None:
        return True
    return ev.evaluate(slot.cond, Context("", cells={slot.name or "": cell}))


def bind_fields(node: ast.DelimitedPattern, fields: list[str], ev: Evaluator) -> dict[str, str] | None:
    """Names bound to fields, or None. Floating runs between ellipses take the leftmost fit."""
    segs = node.segments
    total = sum(len(s) for s in segs)
    if len(segs) == 1:
        if len(fields) != total:
            return None
        head, tail, middle = segs[0], [], []
    else:
        if len(fields) < total:
            return None
        head, tail, middle = segs[0], segs[-1], segs[1:-1]
    out: dict[str, str] = {}
    for i, slot in enumerate(head):
        if not _slot_ok(ev, slot, fields[i]):
            return None
        out[slot.name or ""] = fields[i]
    for j, slot in enumerate(tail):
        cell = fields[len(fields) - len(tail) + j]
        if not _slot_ok(ev, slot, cell):
            return None
        out[slot.name or ""] = cell
    end = len(fields) - len(tail)

    def place(k: int, lo: int) -> dict[str, str] | None:
        if k == len(middle):
            return {}
        seg = middle[k]
        rest = sum(len(s) for s in middle[k + 1 :])
        for p in range(lo, end - rest - len(seg) + 1):
            if all(_slot_ok(ev, s, fields[p + i]) for i, s in enumerate(seg)):
                later = place(k + 1, p + len(seg))
                if later is not None:
                    return {**{s.name or "": fields[p + i] for i, s in enumerate(seg)}, **later}
        return None

    placed = place(0, len(head))
    if placed is None:
        return None
    out.update(placed)
    return out


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

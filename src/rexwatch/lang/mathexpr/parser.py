"""Metric math: tokens -> ``ast`` nodes.

Grammar (lowest precedence first)::

    expr    := or
    or      := and (("OR" | "||") and)*
    and     := cmp (("AND" | "&&") cmp)*
    cmp     := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/") unary)*
    unary   := "-" unary | "+" unary | power
    power   := primary ("^" unary)?
    primary := NUMBER | STRING | NAME | NAME "(" [expr ("," expr)*] ")" | "(" expr ")"
             | "[" expr ("," expr)* "]"

Errors are ``QueryError`` pointing at the offending token. Parentheses, unary
minus and ``^`` nest at most ``MAX_DEPTH`` deep, and a finished tree deeper than
``MAX_TREE_DEPTH`` (a chain such as ``a+b+c+…`` is one level per operator) is
refused, so the evaluator's recursion is bounded.
"""

from __future__ import annotations

import math
import re

from rexwatch.errors import QueryError
from rexwatch.lang.base import (
    MAX_DEPTH,
    Lexer,
    ParserBase,
    Token,
    check_depth,
    check_length,
    recursion_guard,
    scan_quoted,
)
from rexwatch.lang.mathexpr.ast import Binary, Call, ListExpr, Node, Num, Ref, Str, Unary, children

MAX_LENGTH = 10_000  # characters; CloudWatch allows far less, this only bounds the work

_LEXER = Lexer(
    r"""(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<open_str>["'])
      | (?P<op>>=|<=|==|!=|&&|\|\||[-+*/^(),\[\]<>])""",
    flags=re.VERBOSE | re.S,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\"}


def tokenize(text: str) -> list[Token]:
    tokens = _LEXER.tokenize(text)
    for tok in tokens:
        if tok.kind == "open_str":
            scan_quoted(text, tok.start)  # raises: the string has no closing quote
    return tokens


class Parser(ParserBase):
    END_TEXT = "the end of the expression"

    def __init__(self, text: str) -> None:
        check_length(text, MAX_LENGTH, "an expression")
        super().__init__(text, tokenize(text))

    def take(self, *texts: str) -> Token | None:
        t = self.tok
        if (t.kind == "op" and t.text in texts) or (t.kind == "name" and t.text.upper() in texts):
            return self.advance()
        return None

    def expect_op(self, text: str) -> Token:
        t = self.take(text)
        if t is None:
            raise self.expected(repr(text))
        return t

    def parse(self) -> Node:
        if self.tok.kind == self.EOF:
            raise self.error("the expression is empty")
        node = self.or_()
        if self.tok.kind != self.EOF:
            raise self.error(f"unexpected {self.tok.text!r}")
        check_depth(node, children, self.too_deep)
        return node

    def too_deep(self, node: Node, limit: int) -> QueryError:
        return QueryError(
            f"the expression nests more than {limit} levels deep (each operator of a chain such as "
            "a + b + c counts as a level)",
            query=self.text,
            start=node.pos,
        )

    def or_(self) -> Node:
        node = self.and_()
        while (t := self.take("OR", "||")) is not None:
            node = Binary("OR", node, self.and_(), t.pos)
        return node

    def and_(self) -> Node:
        node = self.cmp()
        while (t := self.take("AND", "&&")) is not None:
            node = Binary("AND", node, self.cmp(), t.pos)
        return node

    def cmp(self) -> Node:
        node = self.sum()
        t = self.take("<", "<=", ">", ">=", "==", "!=")
        if t is not None:
            node = Binary(t.text, node, self.sum(), t.pos)
        return node

    def sum(self) -> Node:
        node = self.product()
        while (t := self.take("+", "-")) is not None:
            node = Binary(t.text, node, self.product(), t.pos)
        return node

    def product(self) -> Node:
        node = self.unary()
        while (t := self.take("*", "/")) is not None:
            node = Binary(t.text, node, self.unary(), t.pos)
        return node

    def unary(self) -> Node:
        t = self.take("-")
        if t is not None:
            with self.nested():
                return Unary("-", self.unary(), t.pos)
        if self.take("+") is not None:
            with self.nested():
                return self.unary()
        return self.power()

    def power(self) -> Node:
        node = self.primary()
        t = self.take("^")
        if t is not None:
            with self.nested():
                node = Binary("^", node, self.unary(), t.pos)
        return node

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self.advance()
            value = float(t.text)
            if not math.isfinite(value):
                raise self.error(f"the number {t.text} is out of range", t)
            return Num(value, t.pos)
        if t.kind == "str":
            self.advance()
            return Str(scan_quoted(self.text, t.start, escapes=_ESCAPES)[0], t.pos)
        if t.kind == "name":
            self.advance()
            if self.take("(") is not None:
                args = []
                with self.nested():
                    if self.take(")") is None:
                        args.append(self.or_())
                        while self.take(",") is not None:
                            args.append(self.or_())
                        self.expect_op(")")
                return Call(t.text.upper(), tuple(args), t.pos)
            return Ref(t.text, t.pos)
        if self.take("(") is not None:
            with self.nested():
                node = self.or_()
            self.expect_op(")")
            return node
        if self.take("[") is not None:
            with self.nested():
                items = [self.or_()]
                while self.take(",") is not None:
                    items.append(self.or_())
            self.expect_op("]")
            return ListExpr(tuple(items), t.pos)
        if t.kind == self.EOF:
            raise self.error("the expression ends too early")
        raise self.error(f"unexpected {t.text!r}")


def parse(text: str) -> Node:
    """Parse a metric-math expression; raises ``QueryError`` with the position of the problem."""
    with recursion_guard(text):
        return Parser(text).parse()


__all__ = ["MAX_DEPTH", "parse"]

"""Metric math: tokenizer and parser producing an AST.

Grammar (lowest precedence first)::

    expr    := or
    or      := and (("OR" | "||") and)*
    and     := cmp (("AND" | "&&") cmp)*
    cmp     := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/") unary)*
    unary   := "-" unary | power
    power   := primary ("^" unary)?
    primary := NUMBER | STRING | NAME | NAME "(" [expr ("," expr)*] ")" | "(" expr ")"
             | "[" expr ("," expr)* "]"

Errors raise ``QueryError`` pointing at the offending character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rexwatch.errors import QueryError

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<op>>=|<=|==|!=|&&|\|\||[-+*/^(),\[\]<>])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # num, name, str, op, end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    n = len(text)
    while pos < n:
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            start = pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            raise QueryError(f"unexpected character {text[start]!r}", query=text, start=start)
        kind = m.lastgroup or "op"
        out.append(Token(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    out.append(Token("end", "", len(text)))
    return out


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
    name: str
    pos: int


@dataclass(frozen=True)
class Call:
    name: str
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
    op: str
    left: object
    right: object
    pos: int


Node = Num | Str | Ref | Call | ListExpr | Unary | Binary


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def error(self, message: str, tok: Token | None = None) -> QueryError:
        t = tok or self.tok
        return QueryError(message, query=self.text, start=t.pos, end=t.pos + max(1, len(t.text)))

    def take(self, *texts: str) -> Token | None:
        t = self.tok
        if (t.kind == "op" and t.text in texts) or (t.kind == "name" and t.text.upper() in texts):
            self.i += 1
            return t
        return None

    def expect(self, text: str) -> Token:
        t = self.take(text)
        if t is None:
            found = "the end of the expression" if self.tok.kind == "end" else repr(self.tok.text)
            raise self.error(f"expected {text!r} but found {found}")
        return t

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.error("the expression is empty")
        node = self.or_()
        if self.tok.kind != "end":
            raise self.error(f"unexpected {self.tok.text!r}")
        return node

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
            return Unary("-", self.unary(), t.pos)
        self.take("+")
        return self.power()

    def power(self) -> Node:
        node = self.primary()
        t = self.take("^")
        if t is not None:
            node = Binary("^", node, self.unary(), t.pos)
        return node

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self.i += 1
            return Num(float(t.text), t.pos)
        if t.kind == "str":
            self.i += 1
            return Str(bytes(t.text[1:-1], "utf-8").decode("unicode_escape"), t.pos)
        if t.kind == "name":
            self.i += 1
            if self.take("(") is not None:
                args = []
                if self.take(")") is None:
                    args.append(self.or_())
                    while self.take(",") is not None:
                        args.append(self.or_())
                    self.expect(")")
                return Call(t.text.upper(), tuple(args), t.pos)
            return Ref(t.text, t.pos)
        if self.take("(") is not None:
            node = self.or_()
            self.expect(")")
            return node
        if self.take("[") is not None:
            items = [self.or_()]
            while self.take(",") is not None:
                items.append(self.or_())
            self.expect("]")
            return ListExpr(tuple(items), t.pos)
        if t.kind == "end":
            raise self.error("the expression ends too early")
        raise self.error(f"unexpected {t.text!r}")


def parse(text: str) -> Node:
    return _Parser(text).parse()


"""SEARCH() expressions of metric math: tokens -> ``ast``.

Grammar (``AND`` may be left out between two operands)::

    search  := (schema | or)*          one schema at most
    schema  := "{" NAME ("," NAME)* "}"
    or      := and ("OR" and)*
    and     := not (["AND"] not)*
    not     := "NOT" not | primary
    primary := "(" or ")" | (NAME | "quoted name") "=" value | value
    value   := WORD | "quoted text"

Errors are ``QueryError`` with the position of the offending token.
"""

from __future__ import annotations

import re

from rexwatch.errors import QueryError
from rexwatch.lang.base import Lexer, ParserBase, Token, check_length, recursion_guard, scan_quoted
from rexwatch.lang.search.ast import And, Expr, Not, Or, Prop, Schema, Term

MAX_LENGTH = 1024

_LEXER = Lexer(
    r"""(?P<schema>\{[^}]*\})|(?P<open_schema>\{)|(?P<lparen>\()|(?P<rparen>\))|(?P<eq>=)
      |(?P<string>"(?:[^"\\]|\\.)*")|(?P<open_str>")|(?P<word>[^\s"{}()=]+)""",
    flags=re.VERBOSE,
)


class Parser(ParserBase):
    END_TEXT = "the end of the search expression"

    def __init__(self, text: str) -> None:
        check_length(text, MAX_LENGTH, "a search expression")
        tokens = _LEXER.tokenize(text)
        for tok in tokens:
            if tok.kind == "open_str":
                scan_quoted(text, tok.start)  # raises: no closing quote
            if tok.kind == "open_schema":
                raise QueryError("expected } closing the schema {Namespace,Dim1,...}", query=text,
                                 start=tok.start, end=len(text))
        super().__init__(text, tokens)
        self.schema: Schema | None = None

    def keyword(self, word: str) -> bool:
        return self.tok.kind == "word" and self.tok.text.upper() == word

    def parse(self) -> tuple[Schema | None, Expr | None]:
        parts: list[Expr] = []
        while self.tok.kind != self.EOF:
            if self.tok.kind == "schema":
                self.take_schema()
            else:
                parts.append(self.parse_or())
        expr = None if not parts else parts[0] if len(parts) == 1 else And(tuple(parts))
        return self.schema, expr

    def take_schema(self) -> None:
        tok = self.advance()
        if self.schema is not None:
            raise self.error("a search expression has one schema {Namespace,Dim1,...} at most", tok)
        names = [p.strip().strip('"') for p in tok.text[1:-1].split(",")]
        if not names[0]:
            raise self.error("a schema starts with a namespace: {Namespace,Dim1,...}", tok)
        self.schema = Schema(names[0], tuple(sorted(n for n in names[1:] if n)), tok.start)

    def parse_or(self) -> Expr:
        return self.chain(self.parse_and, lambda: self.keyword("OR"), Or)

    def parse_and(self) -> Expr:
        items = [self.parse_not()]
        while True:
            if self.keyword("AND"):
                self.advance()
            elif self.tok.kind in (self.EOF, "rparen", "schema") or self.keyword("OR"):
                break
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_not(self) -> Expr:
        if self.keyword("NOT"):
            self.advance()
            with self.nested():
                return Not(self.parse_not())
        return self.parse_primary()

    def parse_primary(self) -> Expr:
        tok = self.tok
        if tok.kind == "lparen":
            self.advance()
            with self.nested():
                node = self.parse_or()
            self.expect("rparen", "')' closing the '('")
            return node
        if tok.kind in ("word", "string") and self.peek().kind == "eq":
            # A property name may be quoted ("Service"="api"), as Grafana's builder writes it and as a
            # dimension name with spaces needs.
            name = self.value("a property name")
            self.advance()
            value = self.value(f"a value after {name}=")
            return Prop(name, value, tok.start)
        if tok.kind in ("word", "string"):
            return Term(self.value("a term").lower(), tok.start)
        if tok.kind == "schema":
            self.take_schema()
            return self.parse_primary()
        raise self.expected("a term, Name=value, NOT or '('")

    def value(self, what: str) -> str:
        tok = self.tok
        if tok.kind == "string":
            self.advance()
            return scan_quoted(self.text, tok.start)[0]
        if tok.kind == "word" and tok.text.upper() not in ("AND", "OR", "NOT"):
            self.advance()
            return tok.text
        raise self.expected(what)


def parse(text: str) -> tuple[Schema | None, Expr | None]:
    with recursion_guard(text):
        return Parser(text).parse()


__all__ = ["Token", "parse"]

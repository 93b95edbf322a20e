"""Composite alarm rules (CloudWatch's ``AlarmRule``): tokens -> ``ast``.

Grammar::

    rule    := or
    or      := and ("OR" and)*
    and     := not ("AND" not)*
    not     := "NOT" not | primary
    primary := "TRUE" | "FALSE" | "(" rule ")"
             | ("ALARM" | "OK" | "INSUFFICIENT_DATA") "(" name ")"
    name    := an alarm name or ARN, bare or in double quotes

Keywords are case-sensitive as in CloudWatch. Errors are ``QueryError`` with
the position of the offending token; NOT chains and parentheses nest at most
``MAX_DEPTH`` deep.
"""

from __future__ import annotations

from rexwatch.lang.alarmrule.ast import And, Const, Node, Not, Or, StateIs
from rexwatch.lang.base import Lexer, ParserBase, Token, check_length, recursion_guard, scan_quoted

MAX_RULE_LENGTH = 10240
STATE_FUNCS = ("ALARM", "OK", "INSUFFICIENT_DATA")
KEYWORDS = ("AND", "OR", "NOT", "TRUE", "FALSE", *STATE_FUNCS)

_LEXER = Lexer(r'(?P<lparen>\()|(?P<rparen>\))|(?P<string>"(?:[^"\\]|\\.)*")|(?P<open_str>")|(?P<word>[^\s()"]+)')


def tokenize(rule: str) -> list[Token]:
    tokens = _LEXER.tokenize(rule)
    for tok in tokens:
        if tok.kind == "open_str":
            scan_quoted(rule, tok.start, what="quoted alarm name")  # raises: no closing quote
    return tokens


class Parser(ParserBase):
    END_TEXT = "the end of the rule"

    def __init__(self, rule: str) -> None:
        super().__init__(rule, tokenize(rule))

    def is_word(self, text: str) -> bool:
        return self.tok.kind == "word" and self.tok.text == text

    def parse(self) -> Node:
        if self.tok.kind == self.EOF:
            raise self.error("the alarm rule is empty")
        node = self.parse_or()
        if self.tok.kind != self.EOF:
            raise self.error(f"expected AND, OR or the end of the rule, found {self.tok.text!r}")
        return node

    def parse_or(self) -> Node:
        return self.chain(self.parse_and, lambda: self.is_word("OR"), Or)

    def parse_and(self) -> Node:
        return self.chain(self.parse_not, lambda: self.is_word("AND"), And)

    def parse_not(self) -> Node:
        if self.is_word("NOT"):
            self.advance()
            with self.nested():
                return Not(self.parse_not())
        return self.parse_primary()

    def parse_primary(self) -> Node:
        t = self.tok
        if t.kind == "lparen":
            self.advance()
            with self.nested():
                node = self.parse_or()
            if self.tok.kind != "rparen":
                raise self.error(f"expected ')' to close the '(' at position {t.start + 1}")
            self.advance()
            return node
        if t.kind == "word" and t.text in ("TRUE", "FALSE"):
            self.advance()
            return Const(t.text == "TRUE")
        if t.kind == "word" and t.text in STATE_FUNCS:
            self.advance()
            if self.tok.kind != "lparen":
                raise self.error(f"expected '(' after {t.text}")
            self.advance()
            name_tok = self.tok
            if name_tok.kind == "string":
                name = scan_quoted(self.text, name_tok.start)[0]
            elif name_tok.kind == "word":
                name = name_tok.text
            else:
                name = ""
            if not name:
                raise self.error(f"expected an alarm name in {t.text}(...)")
            self.advance()
            if self.tok.kind != "rparen":
                raise self.error(f"expected ')' after the alarm name in {t.text}(...)")
            self.advance()
            return StateIs(t.text, name, name_tok.start)
        if t.kind == self.EOF:
            raise self.error("the rule ends where a condition was expected")
        if t.kind == "word" and t.text.upper() in KEYWORDS:
            raise self.error(f"keywords are upper case: use {t.text.upper()!r}, not {t.text!r}")
        raise self.error(
            f"expected ALARM(...), OK(...), INSUFFICIENT_DATA(...), TRUE, FALSE, NOT or '(', found {t.text!r}"
        )


def parse(rule: str) -> Node:
    check_length(rule, MAX_RULE_LENGTH, "an alarm rule")
    with recursion_guard(rule):
        return Parser(rule).parse()

"""Composite alarm rule expressions: tokenizer -> parser -> AST -> evaluator.

The language is CloudWatch's ``AlarmRule``::

    rule    := or
    or      := and ("OR" and)*
    and     := not ("AND" not)*
    not     := "NOT" not | primary
    primary := "TRUE" | "FALSE" | "(" rule ")"
             | ("ALARM" | "OK" | "INSUFFICIENT_DATA") "(" name ")"
    name    := an alarm name or ARN, bare or in double quotes

Keywords are case-sensitive as in CloudWatch. Errors are ``QueryError`` with
the position of the offending token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rexwatch.errors import QueryError

MAX_RULE_LENGTH = 10240
STATE_FUNCS = ("ALARM", "OK", "INSUFFICIENT_DATA")
KEYWORDS = ("AND", "OR", "NOT", "TRUE", "FALSE", *STATE_FUNCS)


@dataclass(frozen=True)
class Token:
    kind: str  # "(", ")", "word", "string", "eof"
    text: str
    pos: int


def tokenize(rule: str) -> list[Token]:
    out: list[Token] = []
    i, n = 0, len(rule)
    while i < n:
        c = rule[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append(Token(c, c, i))
            i += 1
        elif c == '"':
            j = i + 1
            buf = []
            while j < n and rule[j] != '"':
                if rule[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(rule[j])
                j += 1
            if j >= n:
                raise QueryError("unterminated quoted alarm name", query=rule, start=i, end=n)
            out.append(Token("string", "".join(buf), i))
            i = j + 1
        else:
            j = i
            while j < n and not rule[j].isspace() and rule[j] not in '()"':
                j += 1
            out.append(Token("word", rule[i:j], i))
            i = j
    out.append(Token("eof", "", n))
    return out


# ------------------------------------------------------------------ AST


@dataclass(frozen=True)
class Const:
    value: bool


@dataclass(frozen=True)
class StateIs:
    state: str
    alarm: str
    pos: int


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


Node = Const | StateIs | Not | And | Or


class _Parser:
    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.toks = tokenize(rule)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def fail(self, message: str, tok: Token | None = None) -> QueryError:
        t = tok or self.tok
        return QueryError(message, query=self.rule, start=t.pos, end=t.pos + max(1, len(t.text)))

    def is_word(self, text: str) -> bool:
        return self.tok.kind == "word" and self.tok.text == text

    def parse(self) -> Node:
        if self.tok.kind == "eof":
            raise self.fail("the alarm rule is empty")
        node = self.parse_or()
        if self.tok.kind != "eof":
            raise self.fail(f"expected AND, OR or the end of the rule, found {self.tok.text!r}")
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.is_word("OR"):
            self.i += 1
            node = Or(node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while self.is_word("AND"):
            self.i += 1
            node = And(node, self.parse_not())
        return node

    def parse_not(self) -> Node:
        if self.is_word("NOT"):
            self.i += 1
            return Not(self.parse_not())
        return self.parse_primary()

    def parse_primary(self) -> Node:
        t = self.tok
        if t.kind == "(":
            self.i += 1
            node = self.parse_or()
            if self.tok.kind != ")":
                raise self.fail(f"expected ')' to close the '(' at position {t.pos + 1}")
            self.i += 1
            return node
        if t.kind == "word" and t.text in ("TRUE", "FALSE"):
            self.i += 1
            return Const(t.text == "TRUE")
        if t.kind == "word" and t.text in STATE_FUNCS:
            self.i += 1
            if self.tok.kind != "(":
                raise self.fail(f"expected '(' after {t.text}")
            self.i += 1
            name_tok = self.tok
            if name_tok.kind not in ("word", "string") or not name_tok.text:
                raise self.fail(f"expected an alarm name in {t.text}(...)")
            self.i += 1
            if self.tok.kind != ")":
                raise self.fail(f"expected ')' after the alarm name in {t.text}(...)")
            self.i += 1
            return StateIs(t.text, name_tok.text, name_tok.pos)
        if t.kind == "eof":
            raise self.fail("the rule ends where a condition was expected")
        if t.kind == "word" and t.text.upper() in KEYWORDS:
            raise self.fail(f"keywords are upper case: use {t.text.upper()!r}, not {t.text!r}")
        raise self.fail(
            f"expected ALARM(...), OK(...), INSUFFICIENT_DATA(...), TRUE, FALSE, NOT or '(', found {t.text!r}"
        )


@dataclass(frozen=True)
class CompiledRule:
    text: str
    root: Node

    @property
    def alarms(self) -> list[str]:
        """Names (or ARNs) of the alarms the rule refers to, in order of first use."""
        seen: dict[str, None] = {}

        def walk(n: Node) -> None:
            if isinstance(n, StateIs):
                seen.setdefault(n.alarm, None)
            elif isinstance(n, Not):
                walk(n.operand)
            elif isinstance(n, And | Or):
                walk(n.left)
                walk(n.right)

        walk(self.root)
        return list(seen)

    def evaluate(self, state_of: Callable[[str], str | None]) -> bool:
        """True when the rule holds; ``state_of(name)`` gives a child alarm's state value."""

        def ev(n: Node) -> bool:
            if isinstance(n, Const):
                return n.value
            if isinstance(n, StateIs):
                return state_of(n.alarm) == n.state
            if isinstance(n, Not):
                return not ev(n.operand)
            if isinstance(n, And):
                return ev(n.left) and ev(n.right)
            return ev(n.left) or ev(n.right)

        return ev(self.root)


def compile_rule(rule: str) -> CompiledRule:
    if len(rule) > MAX_RULE_LENGTH:
        raise QueryError(f"the alarm rule is longer than {MAX_RULE_LENGTH} characters", query=rule[:80])
    return CompiledRule(rule, _Parser(rule).parse())


def alarm_name_of(ref: str) -> str:
    """A rule may name a child by ARN (arn:aws:cloudwatch:r:acct:alarm:NAME) or by name."""
    if ref.startswith("arn:") and ":alarm:" in ref:
        return ref.split(":alarm:", 1)[1]
    return ref

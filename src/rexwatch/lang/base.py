"""What every small language shares: a token stream with pointed errors and a nesting bound.

A language keeps its own token kinds and grammar; its parser subclasses
``ParserBase`` for the cursor, ``error``/``expected``/``expect`` (each a
``QueryError`` pointing at the offending token) and ``nested()``, which bounds
recursion so a hostile query of 5,000 ``(`` is a clear error instead of a
``RecursionError``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol

from rexwatch.errors import QueryError

# Deepest nesting of parentheses, NOT chains and the like that any language accepts.
MAX_DEPTH = 100


class TokenLike(Protocol):
    kind: Any
    text: str
    start: int
    end: int


class ParserBase:
    """Cursor over ``tokens`` (ending in one token of kind ``EOF``) for a recursive-descent parser."""

    #: The language's end-of-input token kind; subclasses set it.
    EOF: ClassVar[Any]
    #: How the end of input reads in messages ("the end of the pattern").
    END_TEXT: ClassVar[str] = "the end of the input"
    error_class: ClassVar[type[QueryError]] = QueryError

    def __init__(self, text: str, tokens: Sequence[TokenLike]) -> None:
        self.text = text
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Any:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Any:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def advance(self) -> Any:
        tok = self.tokens[self.i]
        if tok.kind is not self.EOF:
            self.i += 1
        return tok

    def at(self, *kinds: Any) -> bool:
        return self.tok.kind in kinds

    def describe(self, tok: TokenLike) -> str:
        return self.END_TEXT if tok.kind is self.EOF else repr(tok.text)

    def error(self, message: str, tok: TokenLike | None = None) -> QueryError:
        tok = tok or self.tok
        return self.error_class(message, query=self.text, start=tok.start, end=max(tok.end, tok.start + 1))

    def expected(self, what: str, tok: TokenLike | None = None) -> QueryError:
        tok = tok or self.tok
        return self.error(f"expected {what}, found {self.describe(tok)}", tok)

    def expect(self, kind: Any, what: str) -> Any:
        if self.tok.kind is not kind:
            raise self.expected(what)
        return self.advance()

    @contextmanager
    def nested(self) -> Iterator[None]:
        """Wrap each recursive descent step; past ``MAX_DEPTH`` levels the input is refused."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nesting is deeper than {MAX_DEPTH} levels")
        try:
            yield
        finally:
            self.depth -= 1

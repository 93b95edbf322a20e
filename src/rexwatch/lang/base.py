"""What every small language shares: tokenizing, a token cursor with pointed errors, depth bounds.

Each language keeps its own token kinds and grammar. The pieces here are the
ones they would otherwise each write again:

- ``Lexer``: a tokenizer from one regular expression of named groups, for the
  languages whose tokens are regular (metric math, alarm rules, SEARCH,
  schedules);
- ``scan_quoted``: a quoted string with backslash escapes, for the hand-written
  tokenizers (filter patterns, Insights) and ``Lexer`` users alike;
- ``ParserBase``: the cursor for a recursive-descent parser, with
  ``error``/``expected``/``expect`` (each a ``QueryError`` pointing at the
  offending token) and ``nested()``, which bounds recursion so 5,000 ``(`` are
  a clear error instead of a ``RecursionError``;
- ``check_depth``: the same bound on a finished tree, for left-deep chains such
  as ``1+1+1+…`` that a parser builds in a loop but code after it walks by
  recursion.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from rexwatch.errors import QueryError

# Deepest nesting of parentheses, NOT chains, operator chains and the like that any language accepts.
# A recursive-descent parser spends about ten Python frames per level of parentheses (one per
# precedence rule), and Python stops at 1,000: 50 levels leave room for the caller and the generators.
MAX_DEPTH = 50
# Deepest finished tree (check_depth): a chain such as a + b + c + … is one level per operator, and
# the code that walks a tree spends two or three frames per level.
MAX_TREE_DEPTH = 200

EOF = "eof"


class TokenLike(Protocol):
    kind: Any
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Token:
    """A token of a ``Lexer``: ``kind`` is the name of the group that matched (``eof`` at the end)."""

    kind: str
    text: str
    start: int
    end: int

    @property
    def pos(self) -> int:
        return self.start


class Lexer:
    """Tokenizer from one regular expression whose named groups are the token kinds.

    ``skip`` (whitespace by default) may separate tokens. A position where no
    group matches is a ``QueryError`` naming the character.
    """

    def __init__(self, spec: str, *, skip: str = r"\s+", flags: int = 0) -> None:
        self.spec = re.compile(spec, flags)
        self.skip = re.compile(skip)

    def tokenize(self, text: str) -> list[Token]:
        out: list[Token] = []
        pos, n = 0, len(text)
        while True:
            gap = self.skip.match(text, pos)
            if gap:
                pos = gap.end()
            if pos >= n:
                break
            m = self.spec.match(text, pos)
            if not m or m.end() == pos or m.lastgroup is None:
                raise QueryError(f"unexpected character {text[pos]!r}", query=text, start=pos)
            out.append(Token(m.lastgroup, m.group(), pos, m.end()))
            pos = m.end()
        out.append(Token(EOF, "", n, n))
        return out


def check_length(text: str, limit: int, what: str) -> None:
    """Refuse ``text`` longer than ``limit`` characters, pointing at the first one past it."""
    if len(text) > limit:
        raise QueryError(f"{what} is at most {limit} characters long, this one is {len(text)}", query=text,
                         start=limit, end=len(text))


def scan_quoted(
    text: str, start: int, *, escapes: dict[str, str] | None = None, what: str = "quoted string"
) -> tuple[str, int]:
    """The string that starts with the quote at ``text[start]``: (unescaped value, end offset).

    Without ``escapes`` a backslash makes the next character stand for itself;
    with it, only the listed escapes are decoded (``n`` -> newline) and any
    other backslash stays as written. Without a closing quote the error points
    from the opening quote to the end.
    """
    quote = text[start]
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            nxt = text[i + 1]
            out.append(nxt if escapes is None else escapes.get(nxt, ch + nxt))
            i += 2
            continue
        if ch == quote:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise QueryError(f"unterminated {what}: expected a closing {quote}", query=text, start=start, end=n)


class ParserBase:
    """Cursor over ``tokens`` (ending in one token of kind ``EOF``) for a recursive-descent parser."""

    #: The language's end-of-input token kind; subclasses set it.
    EOF: ClassVar[Any] = EOF
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
        if tok.kind != self.EOF:
            self.i += 1
        return tok

    def at(self, *kinds: Any) -> bool:
        return self.tok.kind in kinds

    def describe(self, tok: TokenLike) -> str:
        return self.END_TEXT if tok.kind == self.EOF else repr(tok.text)

    def error(self, message: str, tok: TokenLike | None = None) -> QueryError:
        tok = tok or self.tok
        return self.error_class(message, query=self.text, start=tok.start, end=max(tok.end, tok.start + 1))

    def expected(self, what: str, tok: TokenLike | None = None) -> QueryError:
        tok = tok or self.tok
        return self.error(f"expected {what}, found {self.describe(tok)}", tok)

    def expect(self, kind: Any, what: str) -> Any:
        if self.tok.kind != kind:
            raise self.expected(what)
        return self.advance()

    def chain(self, operand: Callable[[], Any], at_operator: Callable[[], bool],
              node: Callable[[tuple], Any]) -> Any:
        """``operand (OP operand)*`` as one n-ary ``node`` (or the lone operand): a long chain of
        AND or OR stays one flat node instead of a deep tree."""
        items = [operand()]
        while at_operator():
            self.advance()
            items.append(operand())
        return items[0] if len(items) == 1 else node(tuple(items))

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


@contextmanager
def recursion_guard(text: str) -> Iterator[None]:
    """Last line of defence behind ``nested()`` and ``check_depth``: a ``RecursionError`` from a
    shape they do not foresee is still the query's fault, answered as a ``QueryError``."""
    try:
        yield
    except RecursionError:
        raise QueryError("the input nests too deeply to compile", query=text, start=0, end=len(text)) from None


def dataclass_children(node: Any) -> Iterator[Any]:
    """The dataclass nodes held by ``node``'s fields (directly or in tuples): for ``check_depth``."""
    for name in getattr(node, "__dataclass_fields__", ()):
        value = getattr(node, name)
        for child in value if isinstance(value, tuple) else (value,):
            if hasattr(child, "__dataclass_fields__"):
                yield child


def check_depth(
    root: Any,
    children: Callable[[Any], Iterable[Any]],
    error: Callable[[Any, int], QueryError],
    limit: int = MAX_TREE_DEPTH,
) -> None:
    """Refuse a tree deeper than ``limit``: ``error(node, limit)`` for the first node past it.

    Iterative, so it is safe on the very trees it refuses.
    """
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise error(node, limit)
        stack.extend((child, depth + 1) for child in children(node))

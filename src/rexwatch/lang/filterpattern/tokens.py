"""Filter-pattern tokenizer.

A pattern has one of three shapes, chosen by its first character: ``{`` a JSON
pattern, ``[`` a space-delimited pattern, anything else terms and phrases.
The tokenizer knows which shape it is reading, because the same characters
mean different things in each (``-5`` is "exclude 5" among terms and minus
five inside ``{ }``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

from rexwatch.errors import QueryError
from rexwatch.lang.base import scan_quoted
from rexwatch.lang.jsontext import WILDCARD

# The largest array index a JSON path may name (no log event holds an array this long).
MAX_ARRAY_INDEX = 2**31 - 1


class T(Enum):
    WORD = auto()  # bare text: a term, a value, a field name or a keyword
    STRING = auto()  # "quoted"; value holds the unescaped text
    REGEX = auto()  # %regex%; value holds the regex
    SELECTOR = auto()  # $.a.b[0]
    OPTIONAL = auto()  # ? before a term
    EXCLUDE = auto()  # - before a term
    LBRACE = auto()
    RBRACE = auto()
    LBRACKET = auto()
    RBRACKET = auto()
    LPAREN = auto()
    RPAREN = auto()
    COMMA = auto()
    ELLIPSIS = auto()
    AND = auto()
    OR = auto()
    OP = auto()  # = != < <= > >=
    EOF = auto()


@dataclass(frozen=True)
class Token:
    kind: T
    text: str  # the source text of the token
    start: int
    end: int
    value: str = ""  # STRING / REGEX content, OP symbol, WORD text
    path: tuple[Any, ...] = ()  # SELECTOR: keys (str), indexes (int) and WILDCARD


class Mode(Enum):
    TEXT = auto()
    JSON = auto()
    DELIMITED = auto()


# Inside quotes only the quote and the backslash are escaped; any other backslash is literal text.
_QUOTE_ESCAPES = {q: {q: q, "\\": "\\"} for q in "\"'"}

# Characters that end a bare word inside { } and [ ].
_STRUCT_STOP = set(' \t\r\n\f\v(){}[],"=!<>')


class Tokenizer:
    """Turns pattern text into tokens. ``tokenize`` returns (mode, tokens)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []

    def error(self, message: str, start: int, end: int | None = None) -> QueryError:
        return QueryError(message, query=self.text, start=start, end=end)

    def tokenize(self) -> tuple[Mode, list[Token]]:
        stripped = self.text.lstrip()
        if stripped.startswith("{"):
            mode = Mode.JSON
        elif stripped.startswith("["):
            mode = Mode.DELIMITED
        else:
            mode = Mode.TEXT
        if mode is Mode.TEXT:
            self._text_tokens()
        else:
            self._struct_tokens(mode)
        self.tokens.append(Token(T.EOF, "", len(self.text), len(self.text)))
        return mode, self.tokens

    # -- shared scanners ------------------------------------------------------

    def _quoted(self) -> Token:
        start = self.pos
        value, self.pos = scan_quoted(self.text, start, escapes=_QUOTE_ESCAPES['"'])
        return Token(T.STRING, self.text[start : self.pos], start, self.pos, value)

    def _regex(self) -> Token:
        start = self.pos
        end = self.text.find("%", start + 1)
        if end < 0:
            raise self.error("unterminated regular expression: expected a closing %", start, len(self.text))
        self.pos = end + 1
        return Token(T.REGEX, self.text[start : end + 1], start, end + 1, self.text[start + 1 : end])

    # -- terms and phrases ------------------------------------------------------

    def _text_tokens(self) -> None:
        text = self.text
        while True:
            while self.pos < len(text) and text[self.pos].isspace():
                self.pos += 1
            if self.pos >= len(text):
                return
            ch = text[self.pos]
            nxt = text[self.pos + 1] if self.pos + 1 < len(text) else ""
            if ch in "?-" and nxt and not nxt.isspace():
                kind = T.OPTIONAL if ch == "?" else T.EXCLUDE
                self.tokens.append(Token(kind, ch, self.pos, self.pos + 1, ch))
                self.pos += 1
                continue
            if ch == '"':
                self.tokens.append(self._quoted())
            elif ch == "%":
                self.tokens.append(self._regex())
            else:
                start = self.pos
                while self.pos < len(text) and not text[self.pos].isspace() and text[self.pos] != '"':
                    self.pos += 1
                word = text[start : self.pos]
                self.tokens.append(Token(T.WORD, word, start, self.pos, word))

    # -- JSON and space-delimited -----------------------------------------------

    def _struct_tokens(self, mode: Mode) -> None:
        text = self.text
        singles = {
            "{": T.LBRACE,
            "}": T.RBRACE,
            "[": T.LBRACKET,
            "]": T.RBRACKET,
            "(": T.LPAREN,
            ")": T.RPAREN,
            ",": T.COMMA,
        }
        while True:
            while self.pos < len(text) and text[self.pos].isspace():
                self.pos += 1
            if self.pos >= len(text):
                return
            start = self.pos
            ch = text[start]
            two = text[start : start + 2]
            if ch in singles:
                self.pos += 1
                self.tokens.append(Token(singles[ch], ch, start, self.pos, ch))
            elif two in ("&&", "||"):
                self.pos += 2
                self.tokens.append(Token(T.AND if two == "&&" else T.OR, two, start, self.pos, two))
            elif two in ("!=", "<=", ">="):
                self.pos += 2
                self.tokens.append(Token(T.OP, two, start, self.pos, two))
            elif ch in "=<>":
                self.pos += 1
                self.tokens.append(Token(T.OP, ch, start, self.pos, ch))
            elif ch == "!":
                raise self.error("expected != (a lone ! is not an operator)", start)
            elif ch in "&|":
                raise self.error(f"expected {ch}{ch}", start)
            elif ch == '"':
                self.tokens.append(self._quoted())
            elif ch == "%":
                self.tokens.append(self._regex())
            elif ch == "$" and mode is Mode.JSON:
                self.tokens.append(self._selector())
            else:
                while self.pos < len(text) and text[self.pos] not in _STRUCT_STOP:
                    if text.startswith(("&&", "||"), self.pos):
                        break
                    self.pos += 1
                word = text[start : self.pos]
                kind = T.ELLIPSIS if word == "..." and mode is Mode.DELIMITED else T.WORD
                self.tokens.append(Token(kind, word, start, self.pos, word))

    def _selector(self) -> Token:
        """``$`` then ``.key``, ``.*``, ``[index]``, ``[*]`` and ``['key']`` / ``.['key']`` parts."""
        text = self.text
        start = self.pos
        self.pos += 1
        stop = set(' \t\r\n\f\v.[](){},"=!<>&|%')
        path: list[Any] = []
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "." and text.startswith(".[", self.pos):
                self.pos += 1  # $.['key']: the bracket after the dot names the key
            elif ch == ".":
                self.pos += 1
                key_start = self.pos
                while self.pos < len(text) and text[self.pos] not in stop:
                    self.pos += 1
                if self.pos == key_start:
                    raise self.error("expected a field name after '.'", key_start)
                key = text[key_start : self.pos]
                path.append(WILDCARD if key == "*" else key)
            elif ch == "[":
                path.append(self._bracket())
            else:
                break
        if not path:
            raise self.error("expected a selector such as $.field after $", start, self.pos)
        wildcards = [i for i, p in enumerate(path) if p is WILDCARD]
        if len(wildcards) > 1:
            raise self.error("a selector may use one wildcard (* or [*]) at most", start, self.pos)
        src = text[start : self.pos]
        return Token(T.SELECTOR, src, start, self.pos, src, tuple(path))

    def _bracket(self) -> Any:
        """``[0]``, ``[*]`` or ``['key']`` at ``self.pos``: an index, WILDCARD or a key."""
        text = self.text
        open_at = self.pos
        i = open_at + 1
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] in "'\"":
            part: Any
            part, i = scan_quoted(text, i, escapes=_QUOTE_ESCAPES[text[i]], what="quoted key")
        else:
            j = i
            # ASCII digits only: str.isdigit accepts "²", which int() refuses.
            while j < len(text) and ((text[j].isascii() and text[j].isdigit()) or text[j] == "*"):
                j += 1
            inner = text[i:j]
            if inner == "*":
                part = WILDCARD
            elif inner.isdigit():
                part = int(inner)
                if part > MAX_ARRAY_INDEX:
                    # ClickHouse indexes arrays with 64-bit integers; a larger one failed the query.
                    raise self.error(f"array index {inner} is larger than {MAX_ARRAY_INDEX}", i, j)
            else:
                part = None
            i = j
        while i < len(text) and text[i] in " \t":
            i += 1
        if part is None or i >= len(text) or text[i] != "]":
            close = text.find("]", open_at)
            raise self.error(
                "expected an array index such as [0], the wildcard [*] or a quoted key such as ['a.b']",
                open_at,
                close + 1 if close > 0 else None,
            )
        self.pos = i + 1
        return part

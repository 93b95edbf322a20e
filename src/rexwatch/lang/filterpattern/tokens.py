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

from rexwatch.errors import QueryError


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


class Mode(Enum):
    TEXT = auto()
    JSON = auto()
    DELIMITED = auto()


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
        i = start + 1
        out = []
        while i < len(self.text):
            ch = self.text[i]
            if ch == "\\" and i + 1 < len(self.text) and self.text[i + 1] in '"\\':
                out.append(self.text[i + 1])
                i += 2
                continue
            if ch == '"':
                self.pos = i + 1
                return Token(T.STRING, self.text[start : i + 1], start, i + 1, "".join(out))
            out.append(ch)
            i += 1
        raise self.error('unterminated quoted string: expected a closing "', start, len(self.text))

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
        """``$`` then ``.key`` and ``[index]`` parts; value is the source text."""
        text = self.text
        start = self.pos
        self.pos += 1
        stop = set(' \t\r\n\f\v.[](){},"=!<>&|%')
        parts = 0
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == ".":
                self.pos += 1
                key_start = self.pos
                while self.pos < len(text) and text[self.pos] not in stop:
                    self.pos += 1
                if self.pos == key_start:
                    raise self.error("expected a field name after '.'", key_start)
            elif ch == "[":
                close = text.find("]", self.pos)
                inner = text[self.pos + 1 : close] if close > 0 else ""
                if close < 0 or not inner.strip().isdigit():
                    raise self.error(
                        "expected an array index such as [0]", self.pos, (close + 1) if close > 0 else None
                    )
                self.pos = close + 1
            else:
                break
            parts += 1
        if parts == 0:
            raise self.error("expected a selector such as $.field after $", start, self.pos)
        return Token(T.SELECTOR, text[start : self.pos], start, self.pos, text[start : self.pos])

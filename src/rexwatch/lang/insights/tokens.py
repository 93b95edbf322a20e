"""Tokenizer for the Logs Insights query language.

Produces a flat list of ``Token``s with their offsets in the query text, so
every later error can point at the column where the problem is. A ``/``
starts a regular expression where an operand is expected (after an operator,
a keyword, ``(`` or ``,``) and means division after an operand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from rexwatch.errors import QueryError
from rexwatch.lang.base import scan_quoted


class T(Enum):
    IDENT = "field name"
    QIDENT = "quoted field name"
    NUMBER = "number"
    DURATION = "time period"
    STRING = "string"
    REGEX = "regular expression"
    OP = "operator"
    PIPE = "'|'"
    COMMA = "','"
    LPAREN = "'('"
    RPAREN = "')'"
    LBRACKET = "'['"
    RBRACKET = "']'"
    EOF = "end of query"


@dataclass(frozen=True, slots=True)
class Token:
    kind: T
    text: str  # the source text of the token
    value: object  # decoded value: str for names/strings/regex, float|int for numbers, ms for durations
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind is T.IDENT and self.text.lower() in words


# Time units for bin(), datefloor() and dateceil(), as the Insights docs list them;
# every unit longer than one character may also take a plural "s".
UNITS: dict[str, str] = {}
for _canon, _names in {
    "ms": ("millisecond", "ms", "msec"),
    "s": ("second", "s", "sec"),
    "m": ("minute", "m", "min"),
    "h": ("hour", "h", "hr"),
    "d": ("day", "d"),
    "w": ("week", "w"),
    "mo": ("month", "mo", "mon"),
    "q": ("quarter", "q", "qtr"),
    "y": ("year", "y", "yr"),
}.items():
    for _n in _names:
        UNITS[_n] = _canon
        if len(_n) > 1:
            UNITS[_n + "s"] = _canon

UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}

_OPERATORS = ("!=", "<=", ">=", "=~", "=", "<", ">", "+", "-", "*", "/", "%", "^", "!")
_SINGLE = {"|": T.PIPE, ",": T.COMMA, "(": T.LPAREN, ")": T.RPAREN, "[": T.LBRACKET, "]": T.RBRACKET}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


def _ident_start(c: str) -> bool:
    return c.isalpha() or c in "_@$"


def _ident_char(c: str) -> bool:
    return c.isalnum() or c in "_@$."


def tokenize(text: str) -> list[Token]:
    toks: list[Token] = []
    i, n = 0, len(text)

    def operand_expected() -> bool:
        if not toks:
            return True
        last = toks[-1]
        if last.kind in (T.NUMBER, T.DURATION, T.STRING, T.REGEX, T.QIDENT, T.RPAREN, T.RBRACKET):
            return False
        if last.kind is T.IDENT:
            # a keyword leaves us expecting an operand; a field name does not,
            # except the field of ``parse FIELD /regex/``
            if len(toks) >= 2 and toks[-2].is_word("parse"):
                return True
            return last.text.lower() in ("like", "and", "or", "not", "in", "parse", "filter", "by")
        return True

    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == "#":  # comment to the end of the line
            while i < n and text[i] != "\n":
                i += 1
            continue
        start = i
        if c in _SINGLE:
            toks.append(Token(_SINGLE[c], c, c, i, i + 1))
            i += 1
            continue
        if c in "\"'":
            value, i = scan_quoted(text, start, escapes=_ESCAPES, what="string")
            toks.append(Token(T.STRING, text[start:i], value, start, i))
            continue
        if c == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise QueryError("unterminated quoted field name: expected a closing `", query=text, start=start,
                                 end=n)
            if j == i + 1:
                raise QueryError("empty quoted field name", query=text, start=start, end=j + 1)
            toks.append(Token(T.QIDENT, text[start : j + 1], text[i + 1 : j], start, j + 1))
            i = j + 1
            continue
        if c == "/" and operand_expected():
            i += 1
            out = []
            while i < n and text[i] != "/":
                if text[i] == "\\" and i + 1 < n:
                    out.append("/" if text[i + 1] == "/" else text[i : i + 2])
                    i += 2
                else:
                    out.append(text[i])
                    i += 1
            if i >= n:
                raise QueryError("unterminated regular expression: expected a closing /", query=text, start=start,
                                 end=n)
            i += 1
            toks.append(Token(T.REGEX, text[start:i], "".join(out), start, i))
            continue
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            while i < n and (text[i].isdigit() or text[i] == "."):
                i += 1
            if i < n and text[i] in "eE" and i + 1 < n and (text[i + 1].isdigit() or text[i + 1] in "+-"):
                i += 2
                while i < n and text[i].isdigit():
                    i += 1
            num_text = text[start:i]
            try:
                value: float | int = float(num_text) if any(ch in num_text for ch in ".eE") else int(num_text)
            except ValueError:
                raise QueryError(f"malformed number {num_text!r}", query=text, start=start, end=i)
            try:
                finite = math.isfinite(float(value))
            except OverflowError:
                finite = False
            if not finite:
                shown = num_text if len(num_text) <= 30 else num_text[:30] + "…"
                raise QueryError(f"the number {shown} is out of range", query=text, start=start, end=i)
            if i < n and text[i].isalpha():
                j = i
                while j < n and text[j].isalpha():
                    j += 1
                unit = text[i:j]
                canon = UNITS.get(unit.lower())
                if canon is None:
                    raise QueryError(
                        f"unknown time unit {unit!r}: expected one of ms, s, m, h, d, w, mo, q, y",
                        query=text, start=i, end=j)
                if not isinstance(value, int) or value <= 0:
                    raise QueryError("a time period needs a positive whole number", query=text, start=start, end=j)
                toks.append(Token(T.DURATION, text[start:j], (value, canon), start, j))
                i = j
                continue
            toks.append(Token(T.NUMBER, num_text, value, start, i))
            continue
        if _ident_start(c):
            while i < n and _ident_char(text[i]):
                i += 1
            word = text[start:i].rstrip(".")
            i = start + len(word)
            toks.append(Token(T.IDENT, word, word, start, i))
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                toks.append(Token(T.OP, op, op, i, i + len(op)))
                i += len(op)
                break
        else:
            raise QueryError(f"unexpected character {c!r}", query=text, start=i)
    toks.append(Token(T.EOF, "", None, n, n))
    return toks

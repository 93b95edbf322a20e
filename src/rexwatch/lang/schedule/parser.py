"""Mute-rule schedule expressions: ``cron(m h dom mon dow)``, ``at(yyyy-MM-ddThh:mm)`` and
ISO 8601 durations, parsed with the position of every problem.

Grammar::

    expression := "cron(" field field field field field ")" | "at(" DATETIME ")"
    field      := item ("," item)*
    item       := ("*" | "?" | value ["-" value]) ["/" STEP]
    value      := NUMBER | NAME            (JAN-DEC for months, SUN-SAT for days)
    duration   := "P" [n "D"] ["T" [n "H"] [n "M"] [n "S"]]
"""

from __future__ import annotations

import datetime as dt
import re

from rexwatch.errors import QueryError
from rexwatch.lang.base import Lexer, ParserBase, Token

_MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
# (name, lowest, highest, names)
FIELDS = (
    ("minutes", 0, 59, None),
    ("hours", 0, 23, None),
    ("day-of-month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
_ITEM_LEXER = Lexer(r"(?P<any>[*?])|(?P<num>\d+)|(?P<name>[A-Za-z]+)|(?P<dash>-)|(?P<slash>/)", skip=r"(?!)")
MIN_DURATION = dt.timedelta(minutes=1)
MAX_DURATION = dt.timedelta(days=15)


def _error(message: str, text: str, start: int, end: int | None = None) -> QueryError:
    return QueryError(message, query=text, start=start, end=end, field="Expression")


def parse_duration(text: str) -> dt.timedelta:
    text = text or ""
    m = _DURATION.fullmatch(text)
    if not m or not any(m.groups()) or text.endswith("T"):
        raise QueryError(f"Duration {text!r} is not an ISO 8601 duration such as PT4H or P2DT12H",
                         query=text, start=0, end=max(len(text), 1), field="Duration")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    td = dt.timedelta(days=d, hours=h, minutes=mi, seconds=s)
    if not MIN_DURATION <= td <= MAX_DURATION:
        raise QueryError(f"Duration {text!r} must be between PT1M and P15D", query=text, start=0, end=len(text),
                         field="Duration")
    return td


class _Item(ParserBase):
    """One item of a cron field (``1-5/2``, ``MON``, ``*``); positions are in the whole expression."""

    def __init__(self, text: str, tokens: list[Token], spec: tuple) -> None:
        super().__init__(text, tokens)
        self.what, self.lo, self.hi, self.names = spec

    def error(self, message: str, tok=None) -> QueryError:
        err = super().error(f"cron {self.what}: {message}", tok)
        err.field_path = ("Expression",)
        return err

    def value(self) -> int:
        tok = self.advance()
        if tok.kind == "name" and self.names and tok.text.upper() in self.names:
            return self.names[tok.text.upper()]
        if tok.kind != "num":
            raise self.error(f"{repr(tok.text) if tok.text else 'nothing'} is not a number or name", tok)
        v = int(tok.text)
        if self.what == "day-of-week" and v == 7:
            v = 0
        if not self.lo <= v <= self.hi:
            raise self.error(f"{v} is outside {self.lo}-{self.hi}", tok)
        return v

    def parse(self) -> range:
        if self.at("any"):
            self.advance()
            a, b = self.lo, self.hi
        else:
            a = b = self.value()
            if self.at("dash"):
                self.advance()
                b = self.value()
            elif self.at("slash"):
                b = self.hi  # "5/10": from 5 on, every 10
        step = 1
        if self.at("slash"):
            self.advance()
            tok = self.tok
            if tok.kind != "num" or int(tok.text) < 1:
                raise self.error(f"bad step {tok.text!r}", tok)
            step = int(self.advance().text)
        if not self.at(self.EOF):
            raise self.error(f"unexpected {self.tok.text!r}")
        return range(a, b + 1, step)


def _field_values(text: str, start: int, end: int, spec: tuple) -> frozenset[int]:
    """The values one cron field (``text[start:end]``) selects."""
    out: set[int] = set()
    pos = start
    for part in text[start:end].split(","):
        part_start = pos
        pos += len(part) + 1
        if not part:
            raise _error(f"cron {spec[0]}: empty item", text, part_start)
        toks = [Token(t.kind, t.text, t.start + part_start, t.end + part_start) for t in _lex(part, text, part_start)]
        out.update(_Item(text, toks, spec).parse())
    return frozenset(out)


def _lex(part: str, text: str, offset: int) -> list[Token]:
    try:
        return _ITEM_LEXER.tokenize(part)
    except QueryError as e:
        raise _error(f"unexpected character {part[e.start]!r}", text, offset + e.start) from None


def parse_expression(expression: str, tz: dt.tzinfo) -> dict:
    """The ``Schedule`` fields an expression sets: ``at`` for at(), the value sets for cron()."""
    text = expression or ""
    lead = len(text) - len(text.lstrip())
    body = text.strip()
    if body.startswith("at(") and body.endswith(")"):
        try:
            at = dt.datetime.strptime(body[3:-1], "%Y-%m-%dT%H:%M").replace(tzinfo=tz)
        except ValueError:
            raise _error(f"Expression {expression!r}: at() takes yyyy-MM-ddThh:mm", text, lead + 3,
                         lead + len(body) - 1) from None
        return {"at": at}
    if body.startswith("cron(") and body.endswith(")"):
        inner_start = lead + 5
        spans = [(m.start() + inner_start, m.end() + inner_start) for m in re.finditer(r"\S+", body[5:-1])]
        if len(spans) != 5:
            raise _error(
                f"Expression {expression!r}: cron() takes 5 fields (minutes hours day-of-month month day-of-week)",
                text, inner_start, lead + len(body) - 1)
        sets = [_field_values(text, s, e, spec) for (s, e), spec in zip(spans, FIELDS, strict=True)]
        dom_text, dow_text = text[spans[2][0]:spans[2][1]], text[spans[4][0]:spans[4][1]]
        return {"minutes": sets[0], "hours": sets[1], "dom": sets[2], "months": sets[3], "dow": sets[4],
                "dom_any": dom_text in ("*", "?"), "dow_any": dow_text in ("*", "?")}
    raise _error(f"Expression {expression!r} must be cron(m h dom mon dow) or at(yyyy-MM-ddThh:mm)", text, lead,
                 max(len(text), lead + 1))

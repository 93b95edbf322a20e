"""How values look to a filter pattern: shared by the SQL generator and the evaluator.

The store keeps JSON fields extracted at ingest in ``fields Map(String, String)``
keyed by dotted path, so a comparison cannot see JSON types there. Every
comparison is therefore defined on a value's *text form* (``rexwatch.lang.jsontext``),
the same in the map and in the raw message; null, objects, arrays and absent
keys have no text form, and no comparison matches them (only ``IS NULL``,
``NOT EXISTS`` and ``= *`` look at them).

A numeric comparison parses the text form as ClickHouse's ``toFloat64OrNull``
does; text that is not a number does not match.
"""

from __future__ import annotations

import re

# ClickHouse's hasToken: a token is a maximal run of ASCII letters and digits
# and non-ASCII characters; every other ASCII character separates tokens.
_SEPARATOR = r"\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f"
TOKEN_RE = re.compile(rf"[^{_SEPARATOR}]+")


def is_token_char(ch: str) -> bool:
    return ch.isascii() is False or ch.isalnum()


def tokens_of(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


# One space-delimited field: a "quoted" run, a [bracketed] run, or a run of other
# characters up to whitespace. Whitespace is spelled out because RE2's \s and
# Python's differ (vertical tab, Unicode spaces).
DELIMITED_FIELD_RE = r'"[^"]*"|\[[^\]]*\]|[^\t\n\f\r ]+'
_SPACE = r"[\t\n\f\r ]"


def rest_regex(skip: int) -> str:
    """Captures the text from field ``skip + 1`` to the end of the line, trailing whitespace left out.

    The fields are read as ``extractAll(message, DELIMITED_FIELD_RE)`` reads them
    (leftmost-first alternatives, longest runs), in RE2 and in Python alike.
    """
    return rf"^{_SPACE}*(?:(?:{DELIMITED_FIELD_RE}){_SPACE}*){{{skip}}}((?s:.)*?){_SPACE}*$"

_NUMBER_RE = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.I)


def to_number(text: str | None) -> float | None:
    """``toFloat64OrNull``: the number a text form spells, else None."""
    if text is None or not _NUMBER_RE.fullmatch(text):
        return None
    return float(text)


def glob_regex(text: str) -> re.Pattern[str]:
    """``*`` wildcards as an anchored Python regex (what SQL LIKE does)."""
    return re.compile("".join(".*" if ch == "*" else re.escape(ch) for ch in text), re.S)


def like_pattern(text: str) -> str:
    """``*`` wildcards as a ClickHouse LIKE pattern."""
    out = []
    for ch in text:
        if ch == "*":
            out.append("%")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


# A literal that contains none of these characters can only equal a JSON string
# (never a number's or boolean's text), so SQL can read it with JSONExtractString.
# (number texts use digits, "-", "." and a lowercase "e"; booleans are "true"/"false").
NON_STRING_CHARS = frozenset("0123456789.-etruefalseinf")


def string_only(text: str) -> bool:
    core = text.replace("*", "")
    return bool(core) and any(ch not in NON_STRING_CHARS for ch in core)


# Characters JSON encoders write as they are (no \\u escapes, no \\/): a literal made of
# these appears verbatim in the raw message wherever a string field holds it.
_VERBATIM = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.,:;!?@#$%^*()+-=~|[]{}"
)


def verbatim_tokens(literal: str) -> list[str]:
    """Whole words the raw message must contain for a JSON string to equal ``literal``.

    Used as a cheap prefilter (``hasToken``) before parsing JSON, by SQL and
    Python alike. A word touching a ``*`` wildcard may continue past it, so
    only words bounded by separators or by the ends of the literal (the quotes
    of the JSON string) count. Empty when the literal has characters an
    encoder might escape. A message that escapes plain letters (``\\u0045``)
    does not match: no common encoder writes JSON that way.
    """
    if not string_only(literal) or not set(literal) <= _VERBATIM:
        return []
    parts = literal.split("*")
    out: list[str] = []
    for i, part in enumerate(parts):
        for m in TOKEN_RE.finditer(part):
            if (m.start() == 0 and i > 0) or (m.end() == len(part) and i < len(parts) - 1):
                continue
            out.append(m.group())
    return list(dict.fromkeys(out))

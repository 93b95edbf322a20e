"""How values look to a filter pattern: shared by the SQL generator and the evaluator.

The store keeps JSON fields extracted at ingest in ``fields Map(String, String)``
keyed by dotted path, so a comparison cannot see JSON types there. Every
comparison is therefore defined on a value's *text form*, the same in the map
and in the raw message:

- a string is its content; a boolean is ``true`` / ``false``; a number is
  ClickHouse's text for it (``1.50`` -> ``1.5``, ``1e3`` -> ``1000``);
- null, objects, arrays and absent keys have no text form, and no comparison
  matches them (only ``IS NULL``, ``NOT EXISTS`` and ``= *`` look at them).

A numeric comparison parses the text form as ClickHouse's ``toFloat64OrNull``
does; text that is not a number does not match.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

# ClickHouse's hasToken: a token is a maximal run of ASCII letters and digits
# and non-ASCII characters; every other ASCII character separates tokens.
_SEPARATOR = r"\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f"
TOKEN_RE = re.compile(rf"[^{_SEPARATOR}]+")


def is_token_char(ch: str) -> bool:
    return ch.isascii() is False or ch.isalnum()


def tokens_of(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


_NUMBER_RE = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.I)


def to_number(text: str | None) -> float | None:
    """``toFloat64OrNull``: the number a text form spells, else None."""
    if text is None or not _NUMBER_RE.fullmatch(text):
        return None
    return float(text)


def number_text(raw: str) -> str | None:
    """ClickHouse's text for the JSON number ``raw``; None when ClickHouse reads it as a string."""
    if re.fullmatch(r"-?[0-9]+", raw):
        i = int(raw)
        return str(i) if -(2**63) <= i < 2**64 else None
    f = float(raw)
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    sign = "-" if f < 0 else ""
    dec = Decimal(repr(abs(f))).normalize()
    _, digits_t, exp = dec.as_tuple()
    digits = "".join(map(str, digits_t))
    k = len(digits)
    n = k + int(exp)  # value = 0.<digits> * 10**n
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        body = digits[0] + ("." + digits[1:] if k > 1 else "") + f"e{e}"
    return sign + body


class RawNumber(str):
    """A JSON number kept as its source text, so its text form is exact."""


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        out.setdefault(k, v)  # ClickHouse reads the first of duplicate keys
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(message: str) -> tuple[bool, Any]:
    """(ok, document) the way ClickHouse's JSON functions see ``message``."""
    try:
        return True, json.loads(
            message,
            parse_int=RawNumber,
            parse_float=RawNumber,
            parse_constant=_reject_constant,
            object_pairs_hook=_first_wins,
        )
    except (ValueError, RecursionError):
        return False, None


_MISSING = object()


def lookup(doc: Any, path: tuple[str | int, ...]) -> Any:
    """The value at ``path`` or ``MISSING``."""
    cur = doc
    for part in path:
        if isinstance(part, int):
            if not isinstance(cur, list) or part >= len(cur):
                return _MISSING
            cur = cur[part]
        else:
            if not isinstance(cur, dict) or part not in cur:
                return _MISSING
            cur = cur[part]
    return cur


MISSING = _MISSING


def text_form(value: Any) -> str | None:
    """The text a comparison sees for a JSON value (None: not comparable)."""
    if isinstance(value, RawNumber):
        t = number_text(value)
        return str(value) if t is None else t
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    return None


def flatten(doc: Any, prefix: str = "") -> dict[str, str]:
    """Every scalar leaf of a parsed document as ``{dotted path: text form}``.

    This is the contract for the store's ``fields`` map: keys ``a.b`` for
    nested objects and ``a[0]`` for array elements, values in text form,
    null leaves and containers left out.
    """
    out: dict[str, str] = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.update(flatten(v, f"{prefix}[{i}]"))
    elif prefix:
        t = text_form(doc)
        if t is not None:
            out[prefix] = t
    return out


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
NON_STRING_CHARS = frozenset("0123456789.+-eEinfatyrulsIN")


def string_only(text: str) -> bool:
    core = text.replace("*", "")
    return bool(core) and any(ch not in NON_STRING_CHARS for ch in core)

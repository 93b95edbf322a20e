"""JSON values as text, the way ClickHouse's JSON functions read them: one module for every reader.

Log ingest (the ``fields`` map of groups with an index policy), the filter-pattern
SQL generator and the Python evaluator must agree on what a JSON event holds, or
one event would match a pattern in one group and not in another. The rules,
checked against ClickHouse's ``JSONExtract*`` functions:

- of duplicate keys the FIRST wins (``{"a":1,"a":2}`` has ``a`` = 1), also when
  the keys are spelled with different escapes;
- a string's text is its content; a boolean is ``true`` / ``false``; a number is
  ClickHouse's text for it (``1.50`` -> ``1.5``, ``1e3`` -> ``1000``, ``-0.0`` ->
  ``-0``, ``1e22`` -> ``1e22``); an integer outside Int64/UInt64 is read as the
  string of its digits;
- a number out of double range (``1e400``) makes the whole document invalid;
- null, objects, arrays and absent keys have no text form.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa

__all__ = [
    "MISSING",
    "WILDCARD",
    "RawNumber",
    "extract_fields",
    "flatten",
    "flatten_fields",
    "lookup",
    "number_text",
    "parse_json",
    "path_steps",
    "select_all",
    "text_form",
]


class _Wildcard:
    def __repr__(self) -> str:
        return "*"


#: A path step that selects every element of an array or every value of an object.
WILDCARD: Any = _Wildcard()

_INT_RE = re.compile(r"-?[0-9]+")


def number_text(raw: str) -> str | None:
    """ClickHouse's text for the JSON number ``raw``; None when ClickHouse reads it as a string."""
    if _INT_RE.fullmatch(raw):
        i = int(raw)
        return str(i) if -(2**63) <= i < 2**64 else None
    f = float(raw)
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    r = repr(f)
    if "e" not in r and "n" not in r:  # 1e-4 <= |f| < 1e16: Python's shortest text is ClickHouse's
        return r[:-2] if r.endswith(".0") else r
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


def _float(raw: str) -> RawNumber:
    if not math.isfinite(float(raw)):
        raise ValueError("a number out of double range")  # ClickHouse refuses the whole document
    return RawNumber(raw)


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(message: str) -> tuple[bool, Any]:
    """(ok, document) as ClickHouse's JSON functions see ``message``."""
    try:
        return True, json.loads(
            message,
            parse_int=RawNumber,
            parse_float=_float,
            parse_constant=_reject_constant,
            object_pairs_hook=_first_wins,
        )
    except (ValueError, RecursionError):
        return False, None


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def lookup(doc: Any, path: Sequence[Any]) -> Any:
    """The value at ``path`` (keys and 0-based indexes) or ``MISSING``."""
    cur = doc
    for part in path:
        if isinstance(part, int):
            if not isinstance(cur, list) or part >= len(cur):
                return MISSING
        elif not isinstance(cur, dict) or part not in cur:
            return MISSING
        cur = cur[part]
    return cur


def select_all(doc: Any, path: Sequence[Any]) -> list[Any]:
    """Every value ``path`` selects; a ``WILDCARD`` step fans out over an array or an object."""
    current = [doc]
    for part in path:
        nxt: list[Any] = []
        for cur in current:
            if part is WILDCARD:
                if isinstance(cur, list):
                    nxt.extend(cur)
                elif isinstance(cur, dict):
                    nxt.extend(cur.values())
            elif isinstance(part, int):
                if isinstance(cur, list) and part < len(cur):
                    nxt.append(cur[part])
            elif isinstance(cur, dict) and part in cur:
                nxt.append(cur[part])
        current = nxt
    return current


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

    The contract for the store's ``fields`` map: keys ``a.b`` for nested objects
    and ``a[0]`` for array elements, values in text form, null leaves and
    containers left out. Keys that a dotted path cannot spell (empty, or holding
    ``.``, ``[`` or ``]``) are left out with what is under them.
    """
    out: dict[str, str] = {}
    stack: list[tuple[str, Any]] = [(prefix, doc)]
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(reversed([(f"{key}.{k}" if key else k, v) for k, v in value.items() if _spellable(k)]))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{key}[{i}]", v) for i, v in enumerate(value)]))
        elif key:
            t = text_form(value)
            if t is not None:
                out.setdefault(key, t)
    return out


def _spellable(key: str) -> bool:
    return bool(key) and not (set(key) & {".", "[", "]"})


def flatten_fields(message: str) -> dict[str, str]:
    """The ``fields`` map for ``message`` with every scalar JSON leaf, by dotted path."""
    ok, doc = parse_json(message)
    return flatten(doc) if ok and isinstance(doc, dict | list) else {}


_STEP = re.compile(r"\[[0-9]+\]|[^.\[\]]+")


def path_steps(path: str) -> tuple[str | int, ...]:
    """``a.b[0].c`` -> ``("a", "b", 0, "c")``."""
    return tuple(int(p[1:-1]) if p.startswith("[") else p for p in _STEP.findall(path))


# -- the ingest extractor ------------------------------------------------------------

_BIG = float(2**63)


def _fast_text(value: Any) -> str | None:
    """``text_form`` for what orjson returns; raises LookupError where orjson's reading may differ."""
    if isinstance(value, float):
        if abs(value) >= _BIG:  # orjson turns integers past 64 bits into floats: read the digits again
            raise LookupError
        return number_text(repr(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text_form(value)


class _Plan:
    """What the extractor needs per index-policy path, computed once per batch."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = list(paths)
        self.steps = [path_steps(p) for p in self.paths]
        keys = {s for steps in self.steps for s in steps if isinstance(s, str)}
        # A key made of plain characters has one spelling in JSON unless \u escapes are used, so
        # counting that spelling bounds how often the key occurs; orjson keeps the LAST duplicate,
        # ClickHouse the first, so a message where a key may repeat is read the slow, exact way.
        self.plain = all(not (set(k) & {'"', "\\", "/"}) and k.isprintable() for k in keys)
        self.needles = [f'"{k}"' for k in keys]

    def fast_ok(self, message: str) -> bool:
        return self.plain and "\\u" not in message and all(message.count(n) <= 1 for n in self.needles)


def _pairs(doc: Any, plan: _Plan, text_of: Any) -> list[tuple[str, str]]:
    out = []
    for path, steps in zip(plan.paths, plan.steps, strict=True):
        value = lookup(doc, steps)
        text = text_of(value) if value is not MISSING else None
        if text is not None:
            out.append((path, text))
    return out


def _exact(message: str, plan: _Plan) -> list[tuple[str, str]]:
    ok, doc = parse_json(message)
    return _pairs(doc, plan, text_form) if ok else []


def extract_fields(messages: pa.Array, paths: Sequence[str]) -> pa.Array:
    """The ``fields`` map (``Map(String, String)``) of an index-policy group: each path's text form.

    orjson reads most messages; a message where orjson's reading could differ
    from ClickHouse's (possibly repeated keys, ``\\u`` escapes, integers past 64
    bits, anything orjson refuses) is read by ``parse_json``. Keys and values are
    collected flat and assembled into a MapArray by offsets, so Arrow never
    converts per-row Python structures.
    """
    plan = _Plan(paths)
    keys: list[str] = []
    values: list[str] = []
    offsets = [0]
    for m in messages.to_pylist():
        if m is not None and m.lstrip()[:1] in ("{", "["):
            pairs: list[tuple[str, str]] | None = None
            if plan.fast_ok(m):
                try:
                    pairs = _pairs(orjson.loads(m), plan, _fast_text)
                except (orjson.JSONDecodeError, LookupError):
                    pairs = None
            if pairs is None:
                pairs = _exact(m, plan)
            for k, v in pairs:
                keys.append(k)
                values.append(v)
        offsets.append(len(keys))
    return pa.MapArray.from_arrays(
        pa.array(offsets, pa.int32()), pa.array(keys, pa.string()), pa.array(values, pa.string())
    )

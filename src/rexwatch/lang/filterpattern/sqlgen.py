"""ClickHouse SQL generator: a table from node type to render function.

``Generator(...).render(pattern)`` returns a boolean SQL expression over the
message column (``String``) and the extracted-fields column
(``Map(String, String)`` of dotted path -> text form, see ``values``). Every
value from the pattern travels as a query parameter named ``<prefix>_<n>``.

Term matching is built for speed on large scans: a word is ``hasToken`` (a
token-bloom-filter index can skip granules, and no regex runs); a phrase is
``hasToken`` on each of its words plus one ``match`` / ``position`` check for
the exact text, so the cheap token tests reject most rows first.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from rexwatch.lang.filterpattern import ast
from rexwatch.lang.filterpattern.values import (
    DELIMITED_FIELD_RE,
    like_pattern,
    rest_regex,
    string_only,
    tokens_of,
    verbatim_tokens,
)

# Token boundary for match(): an ASCII character that is not a letter or digit
# (non-ASCII characters belong to tokens, as in hasToken).
_BOUNDARY = r"[^0-9A-Za-z\x{80}-\x{10FFFF}]"
_STRIP_RE = r'(?s)^"(.*)"$|^\[(.*)\]$'
_RE2_SPECIAL = set("\\.+*?()|[]{}^$")
_OPS = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_OPS_PY = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def quote(text: str) -> str:
    """A ClickHouse string literal (only for constants the generator owns)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def re2_escape(text: str) -> str:
    """``text`` as a literal inside an RE2 regular expression."""
    out = []
    for ch in text:
        if ch in _RE2_SPECIAL:
            out.append("\\" + ch)
        elif ch.isascii() and not ch.isprintable():
            out.append(f"\\x{{{ord(ch):02x}}}")
        else:
            out.append(ch)
    return "".join(out)


class Generator:
    TRANSFORMS: dict[type, Callable[[Generator, ast.Node], str]] = {}

    def __init__(
        self,
        message_col: str = "message",
        fields_col: str = "fields",
        indexed_fields: frozenset[str] | set[str] = frozenset(),
        prefix: str = "fp",
    ) -> None:
        self.m = message_col
        self.f = fields_col
        self.indexed = frozenset(indexed_fields or ())
        self.prefix = prefix
        self.params: dict[str, object] = {}
        self._cell: dict[str, str] = {}  # field name -> SQL for its text, in a space-delimited pattern

    def param(self, value: object, type_: str = "String") -> str:
        name = f"{self.prefix}_{len(self.params)}"
        self.params[name] = value
        return f"{{{name}:{type_}}}"

    def render(self, node: ast.Node) -> str:
        return self.TRANSFORMS[type(node)](self, node)

    # -- boolean structure ----------------------------------------------------

    def and_sql(self, node: ast.And) -> str:
        return "(" + " AND ".join(self.render(i) for i in node.items) + ")"

    def or_sql(self, node: ast.Or) -> str:
        return "(" + " OR ".join(self.render(i) for i in node.items) + ")"

    def not_sql(self, node: ast.Not) -> str:
        return f"NOT {self.render(node.item)}"

    # -- whole patterns -------------------------------------------------------

    def matchall_sql(self, node: ast.MatchAll) -> str:
        return "1"

    def textpattern_sql(self, node: ast.TextPattern) -> str:
        return self.render(node.expr)

    def jsonpattern_sql(self, node: ast.JsonPattern) -> str:
        # Comparisons yield NULL where a value is missing; make the result 0/1.
        return f"ifNull({self.render(node.expr)}, 0)"

    # -- text -----------------------------------------------------------------

    def term_sql(self, node: ast.Term) -> str:
        text = node.text
        words = list(dict.fromkeys(tokens_of(text)))
        checks = [f"hasToken({self.m}, {self.param(w)})" for w in words]
        if not (len(words) == 1 and words[0] == text):
            left = _is_token_char(text[0])
            right = _is_token_char(text[-1])
            if left or right:
                regex = (
                    ("(?:^|" + _BOUNDARY + ")" if left else "")
                    + re2_escape(text)
                    + ("(?:$|" + _BOUNDARY + ")" if right else "")
                )
                checks.append(f"match({self.m}, {self.param(regex)})")
            else:
                checks.append(f"position({self.m}, {self.param(text)}) > 0")
        return checks[0] if len(checks) == 1 else "(" + " AND ".join(checks) + ")"

    def regex_sql(self, node: ast.Regex) -> str:
        return f"match({self.m}, {self.param(node.pattern)})"

    # -- JSON -----------------------------------------------------------------

    def _json_args(self, sel: ast.Selector, doc: str | None = None, path: tuple | None = None) -> str:
        """The arguments of a JSON function that reads ``path`` (the selector's) in ``doc``.

        ClickHouse's JSON functions read an integer step of an object as its n-th
        member; an index only selects in an array here, so an index step reads the
        element out of ``JSONExtractArrayRaw`` (empty, and so absent, for anything
        but an array) and the keys after it from that element.
        """
        doc = doc or self.m
        keys: list[str] = []
        for part in sel.path if path is None else path:
            if isinstance(part, int):
                args = ", ".join([doc, *keys])
                doc, keys = f"arrayElement(JSONExtractArrayRaw({args}), {part + 1})", []
            else:
                keys.append(self.param(part))
        return ", ".join([doc, *keys])

    def _indexed(self, sel: ast.Selector) -> bool:
        return sel.indexable and sel.dotted in self.indexed

    def _text(self, sel: ast.Selector) -> tuple[str, str | None]:
        """(text-form expression, existence check or None when missing reads as NULL)."""
        if self._indexed(sel):
            key = self.param(sel.dotted)
            return f"{self.f}[{key}]", f"mapContains({self.f}, {key})"
        return _raw_text(f"JSONExtractRaw({self._json_args(sel)})"), None

    def _selected(self, sel: ast.Selector) -> str:
        """A wildcard selector: the raw JSON of every value it selects, as an Array(String)."""
        w = sel.wildcard
        assert w is not None
        head, tail = sel.path[:w], sel.path[w + 1 :]
        base = self._json_args(sel, path=head)
        # Every element of an array, or the value of every key of an object (JSONExtractRaw
        # reads the first of duplicate keys, as everywhere else).
        values = (
            f"if(JSONType({base}) = 'Array', JSONExtractArrayRaw({base}), "
            f"arrayMap(k -> JSONExtractRaw({base}, k), JSONExtractKeys({base})))"
        )
        if not tail:
            return values
        inner = f"JSONExtractRaw({self._json_args(sel, doc='x', path=tail)})"
        return f"arrayFilter(r -> r != '', arrayMap(x -> {inner}, {values}))"

    def _number_compare(self, sel: ast.Selector, op: str, value: ast.NumberValue) -> str:
        cmp = f"{_OPS[op]} {self.param(value.value, 'Float64')}"
        if sel.wildcard is not None:
            return f"arrayExists(r -> ifNull(toFloat64OrNull({_raw_text('r')}) {cmp}, 0), {self._selected(sel)})"
        if self._indexed(sel):
            return f"toFloat64OrNull({self.f}[{self.param(sel.dotted)}]) {cmp}"
        # JSONExtract reads numbers, and strings as toFloat64OrNull does, in one parse,
        # faster than extracting the raw text; but it reads booleans as 1 and 0, which
        # are not numbers here: exclude them when 0 or 1 could pass the comparison.
        a = self._json_args(sel)
        expr = f"JSONExtract({a}, 'Nullable(Float64)') {cmp}"
        if _OPS_PY[op](0.0, value.value) or _OPS_PY[op](1.0, value.value):
            expr = f"({expr} AND JSONType({a}) != 'Bool')"
        return expr

    def jsoncompare_sql(self, node: ast.JsonCompare) -> str:
        sel, op, value = node.selector, node.op, node.value
        if isinstance(value, ast.NumberValue):
            return self._number_compare(sel, op, value)
        if isinstance(value, ast.StringValue) and value.any:
            if op != "=":
                return "0"
            if sel.wildcard is not None:
                return f"notEmpty({self._selected(sel)})"
            return f"JSONHas({self._json_args(sel)})"
        words: list[str] = []
        if op == "=" and isinstance(value, ast.StringValue) and string_only(value.text):
            # Only a JSON string can have this text, so its words are in the raw message:
            # hasToken rejects most rows before any JSON parse (and lets a token index skip).
            words = [f"hasToken({self.m}, {self.param(w)})" for w in verbatim_tokens(value.text)]
            if sel.wildcard is None and not self._indexed(sel):
                a = self._json_args(sel)  # one extraction, no type check
                if value.glob:
                    check = f"JSONExtractString({a}) LIKE {self.param(like_pattern(value.text))}"
                else:
                    check = f"JSONExtractString({a}) = {self.param(value.text)}"
                if value.text[0] in "*[{":
                    # JSONExtractString returns the raw JSON of an object or array, which
                    # this literal could match: make sure the value is a string.
                    check = f"(JSONType({a}) = 'String' AND {check})"
                return "(" + " AND ".join([*words, check]) + ")" if words else check
        if sel.wildcard is not None:
            cond = self._compare_text(_raw_text("r"), None, op, value)
            check = f"arrayExists(r -> ifNull({cond}, 0), {self._selected(sel)})"
        else:
            text, exists = self._text(sel)
            check = self._compare_text(text, exists, op, value)
        return "(" + " AND ".join([*words, check]) + ")" if words else check

    def _compare_text(self, text: str, exists: str | None, op: str, value: ast.Value) -> str:
        if isinstance(value, ast.RegexValue):
            expr = f"match({text}, {self.param(value.pattern)})"
            expr = expr if op == "=" else f"NOT {expr}"
            needs_exists = True
        elif isinstance(value, ast.StringValue) and value.glob:
            expr = f"{text} {'LIKE' if op == '=' else 'NOT LIKE'} {self.param(like_pattern(value.text))}"
            needs_exists = op != "="
        else:
            assert isinstance(value, ast.StringValue)
            expr = f"{text} {_OPS[op]} {self.param(value.text)}"
            needs_exists = op != "=" or value.text == ""
        if exists and needs_exists:
            return f"({exists} AND {expr})"
        return expr

    def jsonis_sql(self, node: ast.JsonIs) -> str:
        if node.selector.wildcard is not None:
            selected = self._selected(node.selector)
            if node.what == "NOT EXISTS":
                return f"(isValidJSON({self.m}) AND empty({selected}))"
            return f"has({selected}, {quote(node.what.lower())})"
        a = self._json_args(node.selector)
        if node.what == "NULL":
            return f"(JSONHas({a}) AND JSONType({a}) = 'Null')"
        if node.what == "TRUE":
            return f"JSONExtractRaw({a}) = 'true'"
        if node.what == "FALSE":
            return f"JSONExtractRaw({a}) = 'false'"
        return f"(isValidJSON({self.m}) AND NOT JSONHas({a}))"

    # -- space-delimited ------------------------------------------------------

    def delimitedpattern_sql(self, node: ast.DelimitedPattern) -> str:
        arr = f"extractAll({self.m}, {self.param(DELIMITED_FIELD_RE)})"
        n = f"length({arr})"
        segs = node.segments
        total = sum(len(s) for s in segs)
        checks = [f"{n} >= {total}"]
        if len(segs) == 1:
            # No ellipsis: the fields bind in order, and the last one takes the rest of the line.
            slots = segs[0]
            for i, slot in enumerate(slots[:-1]):
                checks.append(self._slot(slot, f"{arr}[{i + 1}]"))
            rest = f"extract({self.m}, {self.param(rest_regex(total - 1))})"
            last = f"if({n} = {total}, {_strip(self, f'{arr}[{total}]')}, {rest})"
            checks.append(self._slot(slots[-1], last, stripped=True))
        else:
            head, tail, middle = segs[0], segs[-1], segs[1:-1]
            for i, slot in enumerate(head):
                checks.append(self._slot(slot, f"{arr}[{i + 1}]"))
            for j, slot in enumerate(tail):
                checks.append(self._slot(slot, f"{arr}[{j - len(tail)}]"))
            if any(slot.cond is not None for seg in middle for slot in seg):
                checks.append(self._middle(arr, middle, len(head), len(tail)))
        checks = [c for c in checks if c != "1"]
        return "ifNull(" + " AND ".join(checks) + ", 0)" if len(checks) > 1 else checks[0]

    def _middle(self, arr: str, middle: list[list[ast.Slot]], head: int, tail: int) -> str:
        """Runs between two ellipses float: each takes its leftmost fit after the run before it.

        A run's conditions test only its own fields, so the leftmost fit of a run leaves the
        most room for the runs after it: if any placement of all runs exists, the greedy one
        does. That keeps the cost linear in the number of runs (a nested search over every
        placement is exponential in it). ``arrayFirst`` over the candidate starts, with a
        sentinel after them, gives the start found or the sentinel, which leaves no room
        for the next run.
        """
        n = f"toInt64(length({arr}))"
        none = str(_NO_FIT)
        lo = f"toInt64({head + 1})"
        for k, seg in enumerate(middle):
            var = f"p{k}"
            # 1-based starts (up to hi, exclusive) that leave room for the run before the tail.
            shift = 1 - (tail + len(seg) - 1)
            hi = f"{n} + {shift}" if shift > 0 else f"{n} - {-shift}" if shift else n
            conds = [
                self._slot(s, f"{arr}[{var} + {i}]" if i else f"{arr}[{var}]") for i, s in enumerate(seg)
            ]
            body = " AND ".join(c for c in conds if c != "1") or "1"
            # (range() is empty when lo > hi; lo must appear once, or the SQL doubles per run)
            if k == len(middle) - 1:  # the last run only has to fit somewhere
                return f"arrayExists({var} -> {body}, range({lo}, {hi}))"
            starts = f"arrayPushBack(range({lo}, {hi}), {none})"
            found = f"arrayFirst({var} -> {var} = {none} OR ifNull({body}, 0), {starts})"
            lo = f"{found} + {len(seg)}"
        raise AssertionError("no floating run")  # pragma: no cover - called with at least one

    def _slot(self, slot: ast.Slot, cell: str, stripped: bool = False) -> str:
        if slot.cond is None:
            return "1"
        self._cell[slot.name or ""] = cell if stripped else _strip(self, cell)
        return self.render(slot.cond)

    def fieldcompare_sql(self, node: ast.FieldCompare) -> str:
        cell = self._cell[node.name]
        value = node.value
        if isinstance(value, ast.NumberValue):
            return f"toFloat64OrNull({cell}) {_OPS[node.op]} {self.param(value.value, 'Float64')}"
        if isinstance(value, ast.StringValue) and value.any:
            return "1" if node.op == "=" else "0"
        return self._compare_text(cell, None, node.op, value)


# Past every field start: a floating run that found no fit "starts" here.
_NO_FIT = 1 << 40


def _strip(gen: Generator, cell: str) -> str:
    """The field's text without the quotes or brackets that made it one field."""
    return f"replaceRegexpOne({cell}, {gen.param(_STRIP_RE)}, '\\\\1\\\\2')"


def _raw_text(raw: str) -> str:
    """The text form of the raw JSON ``raw``: a string unquoted, NULL for null, objects, arrays
    and absent values (``''``), anything else (numbers, booleans) as ClickHouse wrote it."""
    return (
        f"multiIf(startsWith({raw}, '\"'), JSONExtractString({raw}), "
        f"{raw} IN ('', 'null') OR startsWith({raw}, '{{') OR startsWith({raw}, '['), NULL, {raw})"
    )


def _is_token_char(ch: str) -> bool:
    return not ch.isascii() or ch.isalnum()


Generator.TRANSFORMS = {
    ast.And: Generator.and_sql,
    ast.Or: Generator.or_sql,
    ast.Not: Generator.not_sql,
    ast.MatchAll: Generator.matchall_sql,
    ast.TextPattern: Generator.textpattern_sql,
    ast.JsonPattern: Generator.jsonpattern_sql,
    ast.DelimitedPattern: Generator.delimitedpattern_sql,
    ast.Term: Generator.term_sql,
    ast.Regex: Generator.regex_sql,
    ast.JsonCompare: Generator.jsoncompare_sql,
    ast.JsonIs: Generator.jsonis_sql,
    ast.FieldCompare: Generator.fieldcompare_sql,
}


def to_sql(
    pattern: ast.Pattern,
    *,
    message_col: str = "message",
    fields_col: str = "fields",
    indexed_fields: frozenset[str] | set[str] = frozenset(),
    prefix: str = "fp",
) -> tuple[str, dict]:
    gen = Generator(message_col, fields_col, indexed_fields, prefix)
    return gen.render(pattern), gen.params

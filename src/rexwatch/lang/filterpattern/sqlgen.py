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

from collections.abc import Callable

from rexwatch.lang.filterpattern import ast
from rexwatch.lang.filterpattern.values import like_pattern, string_only, tokens_of

# Token boundary for match(): an ASCII character that is not a letter or digit
# (non-ASCII characters belong to tokens, as in hasToken).
_BOUNDARY = r"[^0-9A-Za-z\x{80}-\x{10FFFF}]"
# One space-delimited field: a "quoted" run, a [bracketed] run, or non-space characters.
DELIMITED_FIELD_RE = r'"[^"]*"|\[[^\]]*\]|\S+'
_STRIP_RE = r'(?s)^"(.*)"$|^\[(.*)\]$'
_NON_STRING_SCALARS = "('Int64', 'UInt64', 'Double', 'Bool')"
_RE2_SPECIAL = set("\\.+*?()|[]{}^$")
_OPS = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


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

    def __init__(self, message_col: str = "message", fields_col: str = "fields",
                 indexed_fields: frozenset[str] | set[str] = frozenset(), prefix: str = "fp") -> None:
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
                regex = ("(?:^|" + _BOUNDARY + ")" if left else "") + re2_escape(text) + \
                        ("(?:$|" + _BOUNDARY + ")" if right else "")
                checks.append(f"match({self.m}, {self.param(regex)})")
            else:
                checks.append(f"position({self.m}, {self.param(text)}) > 0")
        return checks[0] if len(checks) == 1 else "(" + " AND ".join(checks) + ")"

    def regex_sql(self, node: ast.Regex) -> str:
        return f"match({self.m}, {self.param(node.pattern)})"

    # -- JSON -----------------------------------------------------------------

    def _json_args(self, sel: ast.Selector) -> str:
        args = [self.m]
        for part in sel.path:
            args.append(str(part + 1) if isinstance(part, int) else self.param(part))
        return ", ".join(args)

    def _text(self, sel: ast.Selector) -> tuple[str, str | None]:
        """(text-form expression, existence check or None when missing reads as NULL)."""
        if sel.dotted in self.indexed:
            key = self.param(sel.dotted)
            return f"{self.f}[{key}]", f"mapContains({self.f}, {key})"
        a = self._json_args(sel)
        expr = (f"multiIf(JSONType({a}) = 'String', JSONExtractString({a}), "
                f"JSONType({a}) IN {_NON_STRING_SCALARS}, JSONExtractRaw({a}), NULL)")
        return expr, None

    def _number(self, sel: ast.Selector) -> str:
        if sel.dotted in self.indexed:
            return f"toFloat64OrNull({self.f}[{self.param(sel.dotted)}])"
        return f"toFloat64OrNull(trim(BOTH '\"' FROM JSONExtractRaw({self._json_args(sel)})))"

    def jsoncompare_sql(self, node: ast.JsonCompare) -> str:
        sel, op, value = node.selector, node.op, node.value
        if isinstance(value, ast.NumberValue):
            return f"{self._number(sel)} {_OPS[op]} {self.param(value.value, 'Float64')}"
        if isinstance(value, ast.StringValue) and value.any:
            return f"JSONHas({self._json_args(sel)})" if op == "=" else "0"
        if (op == "=" and isinstance(value, ast.StringValue) and string_only(value.text)
                and sel.dotted not in self.indexed):
            # Only a JSON string can have this text: one cheap extraction, no type check.
            a = self._json_args(sel)
            if value.glob:
                return f"JSONExtractString({a}) LIKE {self.param(like_pattern(value.text))}"
            return f"JSONExtractString({a}) = {self.param(value.text)}"
        text, exists = self._text(sel)
        return self._compare_text(text, exists, op, value)

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
        segs = node.segments
        total = sum(len(s) for s in segs)
        checks = [f"length({arr}) {'=' if len(segs) == 1 else '>='} {total}"]
        head, tail, middle = segs[0], segs[-1] if len(segs) > 1 else [], segs[1:-1]
        for i, slot in enumerate(head):
            checks.append(self._slot(slot, f"{arr}[{i + 1}]"))
        for j, slot in enumerate(tail):
            checks.append(self._slot(slot, f"{arr}[{j - len(tail)}]"))
        if any(slot.cond is not None for seg in middle for slot in seg):
            checks.append(self._middle(arr, middle, len(head), len(tail)))
        checks = [c for c in checks if c != "1"]
        return "ifNull(" + " AND ".join(checks) + ", 0)" if len(checks) > 1 else checks[0]

    def _middle(self, arr: str, middle: list[list[ast.Slot]], head: int, tail: int) -> str:
        """Runs between two ellipses float: nested arrayExists over their start positions."""
        def level(k: int, lo: str) -> str:
            if k == len(middle):
                return "1"
            seg = middle[k]
            rest = sum(len(s) for s in middle[k + 1 :])
            var = f"p{k}"
            # 1-based start positions that leave room for this run, the later runs and the tail.
            room = tail + rest + len(seg) - 2
            hi = f"length({arr}) - {room}" if room > 0 else f"length({arr}) + {-room}" if room else f"length({arr})"
            conds = [self._slot(s, f"{arr}[{var} + {i}]" if i else f"{arr}[{var}]") for i, s in enumerate(seg)]
            conds.append(level(k + 1, f"{var} + {len(seg)}"))
            body = " AND ".join(c for c in conds if c != "1") or "1"
            return f"arrayExists({var} -> {body}, range({lo}, greatest({lo}, {hi})))"
        return level(0, str(head + 1))

    def _slot(self, slot: ast.Slot, cell: str) -> str:
        if slot.cond is None:
            return "1"
        # The field's text without the quotes or brackets that made it one field.
        self._cell[slot.name or ""] = f"replaceRegexpOne({cell}, {self.param(_STRIP_RE)}, '\\\\1\\\\2')"
        return self.render(slot.cond)

    def fieldcompare_sql(self, node: ast.FieldCompare) -> str:
        cell = self._cell[node.name]
        value = node.value
        if isinstance(value, ast.NumberValue):
            return f"toFloat64OrNull({cell}) {_OPS[node.op]} {self.param(value.value, 'Float64')}"
        if isinstance(value, ast.StringValue) and value.any:
            return "1" if node.op == "=" else "0"
        return self._compare_text(cell, None, node.op, value)


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


def to_sql(pattern: ast.Pattern, *, message_col: str = "message", fields_col: str = "fields",
           indexed_fields: frozenset[str] | set[str] = frozenset(), prefix: str = "fp") -> tuple[str, dict]:
    gen = Generator(message_col, fields_col, indexed_fields, prefix)
    return gen.render(pattern), gen.params

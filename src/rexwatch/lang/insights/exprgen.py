"""Expressions -> ClickHouse SQL, with Insights' types and conversions.

``ExprGen.render`` dispatches on the node type through ``_RENDER``; every
conversion between the value types (``types.Ty``) happens in ``coerce``, so
type errors are reported in one place, at the position of the offending node.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

from rexwatch.errors import QueryError
from rexwatch.lang.insights import ast
from rexwatch.lang.insights.functions import FUNCTIONS, Fn
from rexwatch.lang.insights.types import Col, Ty

_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\{iq_[0-9]+:String\}")

SYSTEM_FIELDS: dict[str, Col] = {
    "@timestamp": Col("ts", Ty.TIME, bare=True),
    "@ingestionTime": Col("ingest_ts", Ty.TIME, bare=True),
    "@message": Col("message", Ty.STR, bare=True),
    "@logStream": Col("log_stream", Ty.STR, bare=True),
    "@log": Col("concat({rx_account:String}, ':', log_group)", Ty.STR, bare=True),
}


def sql_str(value: str) -> str:
    """A ClickHouse string literal, for constants the generator owns (never the query's text)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Params:
    """Query parameters: every string that comes from the query text travels as one, so no
    later text substitution over the SQL could reach it."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self._names: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        name = self._names.get(value)
        if name is None:
            name = self._names[value] = f"iq_{len(self._names)}"
            self.values[name] = value
        return f"{{{name}:String}}"


def sql_num(value: int | float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else "nan"
    return str(value)


def quote_ident(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def json_path_sql(name: str, params: Params, numeric: bool = False) -> str:
    """A discovered JSON field: dotted path, numeric parts index arrays (flattened as ``a.0.b``)."""
    parts = []
    for part in name.split("."):
        # ASCII digits only: str.isdigit accepts "²", which int() refuses.
        parts.append(str(int(part) + 1) if part.isascii() and part.isdigit() else params(part))
    typ = "Nullable(Float64)" if numeric else "Nullable(String)"
    return f"JSONExtract(message, {', '.join(parts)}, '{typ}')"


class Scope:
    """What field names mean at one point of the pipeline.

    Before the first ``stats``, names are system fields, fields defined by
    ``fields``/``parse``, indexed fields (the ``fields`` map) or discovered
    JSON fields of the message. After ``stats`` only its output columns exist.
    """

    def __init__(self, text: str, *, raw: bool, indexed: frozenset[str], defined: dict[str, Col] | None = None,
                 aliases: dict[str, str] | None = None, params: Params | None = None) -> None:
        self.text = text
        self.params = params if params is not None else Params()
        self.raw = raw
        self.indexed = indexed
        self.defined: dict[str, Col] = dict(defined or {})
        self.aliases = dict(aliases or {})  # e.g. "count" -> "count()" after an un-aliased count()
        # fields the query uses as numbers (compared with a number, arithmetic): they sort as numbers only
        self.numeric: set[str] = set()
        # discovered (JSON or indexed) field names the query reads
        self.discovered: set[str] = set()

    def define(self, name: str, col: Col) -> None:
        self.defined[name] = col

    def lookup(self, node: ast.Field) -> Col:
        name = node.name
        if name in self.defined:
            return self.defined[name]
        if not self.raw:
            if name in self.aliases and self.aliases[name] in self.defined:
                return self.defined[self.aliases[name]]
            known = ", ".join(self.defined) or "none"
            raise QueryError(f"field {name!r} is not available after stats: the fields are {known}",
                             query=self.text, start=node.start, end=node.end)
        if name.startswith("@"):
            col = SYSTEM_FIELDS.get(name)
            if col is None:
                close = difflib.get_close_matches(name, SYSTEM_FIELDS, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise QueryError(f"unknown field {name}{hint}: the @ fields are {', '.join(SYSTEM_FIELDS)}",
                                 query=self.text, start=node.start, end=node.end)
            return col
        self.discovered.add(name)
        if name in self.indexed:
            sql = f"nullIf(fields[{self.params(name)}], '')"
            return Col(sql, Ty.FIELD, bare=True, num_sql=f"toFloat64OrNull({sql})")
        return Col(json_path_sql(name, self.params), Ty.FIELD, bare=True,
                   num_sql=json_path_sql(name, self.params, numeric=True),
                   json_field=True)

    def child(self) -> Scope:
        child = Scope(self.text, raw=self.raw, indexed=self.indexed, defined=self.defined, aliases=self.aliases,
                      params=self.params)
        child.numeric, child.discovered = self.numeric, self.discovered
        return child


class ExprGen:
    def __init__(self, scope: Scope, *, allow_aggregates: bool = False) -> None:
        self.scope = scope
        self.text = scope.text
        self.allow_aggregates = allow_aggregates
        self._in_aggregate = False

    def error(self, message: str, node: ast.Expr) -> QueryError:
        return QueryError(message, query=self.text, start=node.start, end=max(node.end, node.start + 1))

    def describe(self, node: ast.Expr) -> str:
        return self.text[node.start : node.end] or "@message"

    # -- dispatch ---------------------------------------------------------------
    def render(self, node: ast.Expr) -> Col:
        fn = _RENDER.get(type(node))
        if fn is None:  # pragma: no cover - every node type is in the table
            raise self.error(f"cannot compile {type(node).__name__}", node)
        return fn(self, node)

    def field(self, node: ast.Field) -> Col:
        return self.scope.lookup(node)

    def literal(self, node: ast.Literal) -> Col:
        v = node.value
        if isinstance(v, bool):
            return Col("true" if v else "false", Ty.BOOL)
        if isinstance(v, (int, float)):
            return Col(sql_num(v), Ty.NUM)
        return Col(self.scope.params(v), Ty.STR)

    def regex(self, node: ast.Regex) -> Col:
        raise self.error("a /regular expression/ can only follow like or =~ (or parse)", node)

    def duration(self, node: ast.Duration) -> Col:
        raise self.error("a time period such as 5m is only valid inside bin(), datefloor() or dateceil()", node)

    def star(self, node: ast.Star) -> Col:
        raise self.error("* is only valid as count(*)", node)

    def unary(self, node: ast.Unary) -> Col:
        inner = self.render(node.operand)
        if node.op == "not":
            return Col(f"NOT {self.paren(self.coerce(inner, 'bool', node.operand))}", Ty.BOOL, inner.agg, inner.bare)
        return Col(f"-{self.paren(self.coerce(inner, 'num', node.operand))}", Ty.NUM, inner.agg, inner.bare)

    @staticmethod
    def paren(sql: str) -> str:
        simple = (all(c.isalnum() or c in "_.'`" for c in sql) or _STRING_LITERAL.fullmatch(sql) is not None
                  or (sql.endswith(")") and _balanced_call(sql)))
        return sql if simple else f"({sql})"

    def binary(self, node: ast.Binary) -> Col:
        left, right = self.render(node.left), self.render(node.right)
        agg, bare = left.agg or right.agg, left.bare or right.bare
        op = node.op
        if op in ("and", "or"):
            lsql = self.paren(self.coerce(left, "bool", node.left))
            rsql = self.paren(self.coerce(right, "bool", node.right))
            return Col(f"{lsql} {op.upper()} {rsql}", Ty.BOOL, agg, bare)
        if op in ("+", "-", "*", "/", "%", "^"):
            lsql = self.paren(self.coerce(left, "num", node.left))
            rsql = self.paren(self.coerce(right, "num", node.right))
            if op == "^":
                return Col(f"pow({lsql}, {rsql})", Ty.NUM, agg, bare)
            return Col(f"{lsql} {op} {rsql}", Ty.NUM, agg, bare)
        # comparison: choose the domain the way Insights does
        kinds = {left.ty, right.ty}
        if Ty.TIME in kinds:
            kind = "time"
        elif Ty.NUM in kinds:
            kind = "num"
        elif Ty.BOOL in kinds:
            kind = "bool" if kinds == {Ty.BOOL} else "boolstr"
        elif op in ("=", "!=") or Ty.STR in kinds:
            kind = "str"
        else:  # two discovered fields compared by order: as numbers
            kind = "num"
        if kind == "boolstr":  # success = false: compare the field's text with "true"/"false"
            lsql = self.paren(self.coerce(left, "str", node.left)) if left.ty is not Ty.BOOL else \
                sql_str("true" if left.sql == "true" else "false")
            rsql = self.paren(self.coerce(right, "str", node.right)) if right.ty is not Ty.BOOL else \
                sql_str("true" if right.sql == "true" else "false")
        else:
            lsql = self.paren(self.coerce(left, kind, node.left))
            rsql = self.paren(self.coerce(right, kind, node.right))
        cond = f"{lsql} {op} {rsql}"
        guard = _text_guard(op, left, node.right, self.scope.params) or _text_guard(op, right, node.left,
                                                                                      self.scope.params)
        if guard:
            cond = f"{guard} AND {self.paren(cond)}"
        return Col(cond, Ty.BOOL, agg, bare)

    def like(self, node: ast.Like) -> Col:
        operand = self.render(node.operand)
        sql = self.paren(self.coerce(operand, "str", node.operand))
        if isinstance(node.pattern, ast.Regex):
            from rexwatch.lang.insights.regexes import to_clickhouse

            _check_regex(self, node.pattern)
            pattern = node.pattern.pattern
            if pattern and not any(c in "\\.^$|?*+()[]{}" for c in pattern):  # plain text: a substring test
                cond = f"position({sql}, {self.scope.params(pattern)}) > 0"
            else:
                cond = f"match({sql}, {self.scope.params(to_clickhouse(pattern))})"
        else:
            cond = f"position({sql}, {self.scope.params(str(node.pattern.value))}) > 0"  # type: ignore[attr-defined]
        if node.negated:
            cond = f"NOT {cond}"
        return Col(cond, Ty.BOOL, operand.agg, operand.bare)

    def in_list(self, node: ast.InList) -> Col:
        operand = self.render(node.operand)
        numeric = all(isinstance(i.value, (int, float)) and not isinstance(i.value, bool) for i in node.items)
        if numeric:
            sql = self.coerce(operand, "num", node.operand)
            items = ", ".join(sql_num(i.value) for i in node.items)  # type: ignore[arg-type]
        else:
            sql = self.coerce(operand, "str", node.operand)
            items = ", ".join(self.scope.params(str(i.value).lower() if isinstance(i.value, bool) else str(i.value))
                              for i in node.items)
        cond = f"{self.paren(sql)} {'NOT IN' if node.negated else 'IN'} ({items})"
        return Col(cond, Ty.BOOL, operand.agg, operand.bare)

    def call(self, node: ast.Call) -> Col:
        fn = FUNCTIONS.get(node.name.lower())
        name_node = ast.Field(node.start, node.name_end, node.name)
        if fn is None:
            close = difflib.get_close_matches(node.name.lower(), FUNCTIONS, n=1)
            hint = f" (did you mean {FUNCTIONS[close[0]].name}?)" if close else ""
            raise self.error(f"unknown function {node.name!r}{hint}", name_node)
        if fn.aggregate:
            if not self.allow_aggregates:
                raise self.error(f"{fn.name}() is an aggregate function: use it in stats", name_node)
            if self._in_aggregate:
                raise self.error(f"{fn.name}() cannot be nested inside another aggregate function", name_node)
        args = list(node.args)
        if args and isinstance(args[0], ast.Star):
            if not fn.star:
                raise self.error(f"{fn.name}(*) is not valid: only count(*) takes *", args[0])
            args = []
        max_args = None if fn.variadic else len(fn.params)
        if len(args) < fn.min_args or (max_args is not None and len(args) > max_args):
            want = (f"{fn.min_args}" if fn.min_args == max_args else
                    f"at least {fn.min_args}" if max_args is None else f"{fn.min_args} to {max_args}")
            raise self.error(f"{fn.name}() takes {want} argument{'s' if want != '1' else ''}, got {len(args)}",
                             node)
        if fn.name in ("bin", "earliest", "latest") and not self.scope.raw:
            raise self.error(f"{fn.name}() needs @timestamp, which is not available after stats", name_node)
        saved = self._in_aggregate
        self._in_aggregate = saved or fn.aggregate
        try:
            rendered: list = []
            types: list[Ty] = []
            agg = fn.aggregate
            bare = False
            for i, arg in enumerate(args):
                kind = fn.params[i] if i < len(fn.params) else fn.variadic
                if kind == "period":
                    if not isinstance(arg, ast.Duration):
                        raise self.error(f"{fn.name}() expects a time period such as 5m here", arg)
                    rendered.append((arg.amount, arg.unit))
                    continue
                if kind == "percent":
                    if not (isinstance(arg, ast.Literal) and isinstance(arg.value, (int, float))
                            and not isinstance(arg.value, bool) and 0 <= arg.value <= 100):
                        raise self.error(f"{fn.name}() expects a percentile between 0 and 100 here", arg)
                    rendered.append(sql_num(arg.value / 100))
                    continue
                col = self.render(arg)
                agg = agg or col.agg
                bare = bare or (col.bare and not fn.aggregate)
                if kind == "ordered":
                    if col.ty is Ty.FIELD:  # numbers compare as numbers, other text as text
                        num = self.coerce(col, "num", arg, fn=fn)
                        f = fn.name.lower()
                        sql = f"if(count({num}) > 0, toString({f}({num})), {f}({col.sql}))"
                        return Col(sql, Ty.FIELD, True, False)
                    kind = "any"
                sql = self.coerce(col, kind, arg, fn=fn)
                rendered.append(sql)
                types.append(Ty.NUM if kind == "num" else col.ty)
        finally:
            self._in_aggregate = saved
        result = fn.result
        if result is None:
            result = types[0] if types and len(set(types)) == 1 else Ty.STR
            if fn.name == "coalesce" and len(set(types)) > 1:
                rendered = [self.coerce(Col(s, t), "str", node) for s, t in zip(rendered, types, strict=True)]
        if fn.name in ("bin", "earliest", "latest"):
            bare = not fn.aggregate
        return Col(fn.render(rendered), result, agg, bare)

    # -- conversions --------------------------------------------------------------
    def coerce(self, col: Col, kind: str, node: ast.Expr, fn: Fn | None = None) -> str:
        where = f"{fn.name}() expects" if fn else "expected"
        what = self.describe(node)
        t = col.ty
        if kind == "any":
            return col.sql
        if kind == "num":
            if t is Ty.NUM:
                return col.sql
            if t is Ty.FIELD:
                self.scope.numeric.add(col.sql)
                return col.num_sql or f"toFloat64OrNull({col.sql})"
            if t is Ty.BOOL:
                return f"toUInt8({col.sql})"
            raise self.error(f"{where} a number, but {what} is a {t.value}", node)
        if kind == "str":
            if t in (Ty.STR, Ty.FIELD):
                return col.sql
            if t is Ty.NUM:
                return f"toString({col.sql})"
            if t is Ty.TIME:
                return f"toString({col.sql}, 'UTC')"
            return f"if({col.sql}, 'true', 'false')"
        if kind == "time":
            if t is Ty.TIME:
                return col.sql
            if t is Ty.NUM:
                return f"fromUnixTimestamp64Milli(toInt64({col.sql}), 'UTC')"
            if t in (Ty.FIELD, Ty.STR):
                s = col.sql
                return (f"if(isNotNull(toInt64OrNull({s})), fromUnixTimestamp64Milli(toInt64OrZero({s}), 'UTC'), "
                        f"parseDateTime64BestEffortOrNull({s}, 3, 'UTC'))")
            raise self.error(f"{where} a timestamp, but {what} is a {t.value}", node)
        if kind == "bool":
            if t is Ty.BOOL:
                return col.sql
            if t is Ty.NUM:
                return f"{self.paren(col.sql)} != 0"
            if t is Ty.FIELD:
                return f"ifNull({col.sql}, '') NOT IN ('', 'false', '0')"
            raise self.error(f"{where} a condition, but {what} is a {t.value}", node)
        raise AssertionError(kind)  # pragma: no cover


def _text_guard(op: str, field: Col, other: ast.Expr, params: Params) -> str | None:
    """A cheap substring test every matching event passes, for ``jsonfield = "text"`` and ``= true/false``.

    Equality with a JSON string can only hold if the message contains the quoted
    text; ClickHouse then parses JSON only for the events that contain it. Only
    plain ASCII without characters that JSON encoders may escape qualifies.
    """
    if op != "=" or not field.json_field or not isinstance(other, ast.Literal):
        return None
    v = other.value
    if isinstance(v, bool):
        needle = "true" if v else "false"
    elif isinstance(v, str) and v and all(" " <= c <= "~" and c not in '"\\/' for c in v):
        needle = f'"{v}"'
    else:
        return None
    return f"position(message, {params(needle)}) > 0"


def _balanced_call(sql: str) -> bool:
    """True if ``sql`` is one call like ``f(a, b)`` (no top-level operator)."""
    i = sql.find("(")
    if i <= 0 or not all(c.isalnum() or c in "_." for c in sql[:i]):
        return False
    depth, quote, j = 0, "", i
    while j < len(sql):
        c = sql[j]
        if quote:
            if c == "\\":
                j += 2
                continue
            if c == quote:
                quote = ""
        elif c in "'`":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0 and j != len(sql) - 1:
                return False
        j += 1
    return depth == 0


def _check_regex(gen: ExprGen, node: ast.Regex) -> None:
    from rexwatch.lang.insights.regexes import check

    check(node.pattern, gen.text, node.start)


_RENDER: dict[type, Callable[[ExprGen, object], Col]] = {
    ast.Field: ExprGen.field,
    ast.Literal: ExprGen.literal,
    ast.Regex: ExprGen.regex,
    ast.Duration: ExprGen.duration,
    ast.Star: ExprGen.star,
    ast.Unary: ExprGen.unary,
    ast.Binary: ExprGen.binary,
    ast.Like: ExprGen.like,
    ast.InList: ExprGen.in_list,
    ast.Call: ExprGen.call,
}

"""The ClickHouse generator: an ``ast.Query`` pipeline -> one SELECT.

Commands are applied in order to a ``Stage`` (FROM, WHERE, ORDER BY, LIMIT BY,
LIMIT). Row commands (fields, filter, parse, sort, limit, dedup, display) extend
the current stage; a command that must see the result of a previous LIMIT
wraps the stage in a subquery first. ``stats`` and ``pattern`` aggregate the
stage into a subquery whose columns become the only fields after them.

Internal column aliases all start with ``__`` so they never shadow the source
columns (``ts``, ``message``, ...); the caller names result columns from
``output_columns``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rexwatch.errors import QueryError
from rexwatch.lang.insights import ast
from rexwatch.lang.insights.exprgen import ExprGen, Params, Scope, sql_str
from rexwatch.lang.insights.regexes import capture_groups, check, glob_to_regex, to_clickhouse
from rexwatch.lang.insights.types import Col, Ty

MAX_ROWS = 10_000
DEFAULT_FIELDS = ("@timestamp", "@message")


@dataclass
class Stage:
    source: str
    scope: Scope
    where: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    order_explicit: bool = False
    limit_by: list[str] | None = None
    limit: int | None = None
    tiebreak: list[str] = field(default_factory=list)  # appended to an explicit sort: stable results


def _indent(sql: str) -> str:
    return "\n".join("    " + line for line in sql.split("\n"))


def render_select(columns: list[str], stage: Stage, group_by: list[str] | None = None,
                  final_limit: int | None = None, aggregate: bool = False) -> str:
    """One SELECT over the stage; an aggregating SELECT ignores the stage's order (it has no LIMIT)."""
    lines = ["SELECT " + ", ".join(columns), f"FROM {stage.source}"]
    if stage.where:
        lines.append("WHERE " + " AND ".join(f"({w})" if len(stage.where) > 1 else w for w in stage.where))
    if group_by:
        lines.append("GROUP BY " + ", ".join(group_by))
    if stage.order and not aggregate:
        lines.append("ORDER BY " + ", ".join(stage.order))
    if stage.limit_by:
        lines.append("LIMIT 1 BY " + ", ".join(stage.limit_by))
    limit = stage.limit if final_limit is None else final_limit
    if limit is not None:
        lines.append(f"LIMIT {limit}")
    return "\n".join(lines)


# Masks for ``pattern``: variable parts of a message become <*>, in this order.
_PATTERN_MASKS = (
    (r'("(?:[^"\\]|\\.)*"\s*:\s*)(?:"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null)', r"\1<*>"),
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?", "<*>"),
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<*>"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<*>"),
    (r"\b0x[0-9a-fA-F]+\b|\b[0-9a-fA-F]{16,}\b", "<*>"),
    (r"\b\d+(?:\.\d+)?[a-zA-Z]{0,2}\b", "<*>"),
)


class Generator:
    def __init__(self, query: ast.Query, source_sql: str, indexed: frozenset[str]) -> None:
        self.query = query
        self.text = query.text
        self.params = Params()
        scope = Scope(query.text, raw=True, indexed=indexed, params=self.params)
        self._discovered, self._numeric = scope.discovered, scope.numeric  # shared by every later scope
        self.stage = Stage(f"(\n{_indent(source_sql.strip())}\n) AS src", scope)
        self.fields_out: list[str] = []  # outputs named by fields commands (in order, no repeats)
        self.display: list[str] | None = None
        self.aggregated_out: list[str] | None = None  # outputs of the last stats/pattern
        self.n = 0
        # the filters on the events themselves (before any limit/stats): what recordsMatched counts
        self.event_filters: list[str] | None = None
        # how recordsMatched can be had: see matched_strategy()
        self.wrapped = False
        self.stats_count = 0
        self.count_col: str | None = None  # hidden count() of the first stats
        self.never_null: set[str] = set()  # stats columns that always have a value (counts)
        self.filter_after_stats = False
        self.patterned = False

    def error(self, message: str, node) -> QueryError:
        return QueryError(message, query=self.text, start=node.start, end=max(node.end, node.start + 1))

    def alias(self, prefix: str) -> str:
        self.n += 1
        return f"__{prefix}{self.n}"

    @property
    def scope(self) -> Scope:
        return self.stage.scope

    def freeze_event_filters(self) -> None:
        if self.event_filters is None:
            self.event_filters = list(self.stage.where)

    def wrap_rows(self) -> None:
        """Put the current stage in a subquery so later commands see its limited rows."""
        self.freeze_event_filters()
        self.wrapped = True
        if not self.stage.order:  # "limit 10 | ..." keeps the 10 newest events
            self.stage.order = self.default_order()
        inner = render_select(["*"], self.stage)
        order = self.stage.order
        self.stage = Stage(f"(\n{_indent(inner)}\n)", self.scope.child(), order=order,
                           order_explicit=self.stage.order_explicit, tiebreak=self.stage.tiebreak)

    def default_order(self) -> list[str]:
        return ["ts DESC"] if self.scope.raw else []

    # -- commands -----------------------------------------------------------------
    def cmd_fields(self, cmd: ast.Fields) -> None:
        gen = ExprGen(self.scope)
        for item in cmd.items:
            col = gen.render(item.expr)
            self.scope.define(item.name, col)
            if self.aggregated_out is not None:
                if item.name not in self.aggregated_out:
                    self.aggregated_out.append(item.name)
            elif item.name not in self.fields_out:
                self.fields_out.append(item.name)

    def cmd_display(self, cmd: ast.Display) -> None:
        for item in cmd.items:
            self.scope.lookup(item)  # unknown names after stats are errors
        self.display = [item.name for item in cmd.items]

    def cmd_filter(self, cmd: ast.Filter) -> None:
        if self.stage.limit is not None or self.stage.limit_by:
            self.wrap_rows()
        gen = ExprGen(self.scope)
        col = gen.render(cmd.condition)
        self.stage.where.append(gen.coerce(col, "bool", cmd.condition))
        if self.aggregated_out is not None:
            self.filter_after_stats = True

    def cmd_parse(self, cmd: ast.Parse) -> None:
        gen = ExprGen(self.scope)
        src_col = gen.render(cmd.source)
        src = gen.coerce(src_col, "str", cmd.source)
        if cmd.glob is not None:
            pattern = glob_to_regex(cmd.glob)
            targets = [(name, k + 1) for k, name in enumerate(cmd.names)]
        else:
            assert cmd.regex is not None
            check(cmd.regex.pattern, self.text, cmd.regex.start)
            pattern = to_clickhouse(cmd.regex.pattern)
            groups = capture_groups(cmd.regex.pattern)
            named = [(name, k + 1) for k, name in enumerate(groups) if name]
            if not named:
                raise self.error("the regular expression has no named group (?<name>...) to create a field",
                                 cmd.regex)
            targets = [(ast.Field(cmd.regex.start, cmd.regex.end, name), k) for name, k in named]
        extract = f"extractGroups(ifNull({src}, ''), {self.params(pattern)})"
        for name, k in targets:
            self.scope.define(name.name, Col(f"nullIf(arrayElement({extract}, {k}), '')", Ty.FIELD, bare=True))

    def cmd_sort(self, cmd: ast.Sort) -> None:
        if self.stage.limit is not None or self.stage.limit_by:
            self.wrap_rows()
        gen = ExprGen(self.scope)
        order: list[str] = []
        for key in cmd.keys:
            col = gen.render(key.expr)
            if col.agg:
                raise self.error("sort by an aggregate: compute it in stats and sort by its name", key.expr)
            direction = "DESC" if key.descending else "ASC"
            if col.ty is Ty.FIELD:
                # Insights' order: text before numbers (ascending), text in natural order (digit runs
                # by length, then value), numbers by value. A field the query uses as a number sorts
                # as a number only.
                known_numeric = col.sql in self.scope.numeric
                num = gen.coerce(col, "num", key.expr)
                if known_numeric:
                    order.append(f"{num} {direction}")
                else:
                    nulls = "NULLS LAST" if key.descending else "NULLS FIRST"
                    order.append(f"{num} {direction} {nulls}")
                    order.append(f"naturalSortKey({col.sql}) {direction}")
            elif col.ty is Ty.STR:
                order.append(f"naturalSortKey({col.sql}) {direction}")
            else:
                order.append(f"{col.sql} {direction}")
        self.stage.order = order + [k for k in self.stage.tiebreak if k not in order]
        self.stage.order_explicit = True

    def cmd_limit(self, cmd: ast.Limit) -> None:
        self.stage.limit = cmd.count if self.stage.limit is None else min(self.stage.limit, cmd.count)

    def cmd_dedup(self, cmd: ast.Dedup) -> None:
        if self.stage.limit is not None:
            self.wrap_rows()
        sqls = [self.scope.lookup(item).sql for item in cmd.items]
        # events missing any of the fields are never duplicates
        missing = " OR ".join(f"isNull({s})" for s in sqls)
        self.stage.limit_by = [*sqls, f"if({missing}, rowNumberInAllBlocks(), 0)"]
        if not self.stage.order:
            self.stage.order = self.default_order()

    def cmd_stats(self, cmd: ast.Stats) -> None:
        if self.stage.limit is not None or self.stage.limit_by:
            self.wrap_rows()
        self.freeze_event_filters()
        gen = ExprGen(self.scope, allow_aggregates=True)
        names: set[str] = set()
        columns: list[str] = []
        group_by: list[str] = []
        defined: dict[str, Col] = {}
        outputs: list[str] = []
        default_order: list[str] = []
        aliases: dict[str, str] = {}

        def add(name: str, col: Col, node: ast.Expr) -> str:
            if name in names:
                raise self.error(f"stats names {name!r} twice: give one of them another name with 'as'", node)
            names.add(name)
            alias = self.alias("s")
            columns.append(f"{col.sql} AS {alias}")
            if col.sql.startswith(("count(", "uniqExact(")):
                self.never_null.add(alias)
            defined[name] = Col(alias, col.ty)
            outputs.append(name)
            return alias

        for proj in cmd.by:
            col = gen.render(proj.expr)
            if col.agg:
                raise self.error("an aggregate function cannot be a group in stats ... by", proj.expr)
            alias = add(proj.name, col, proj.expr)
            group_by.append(alias)
            default_order.append(f"{alias} DESC" if col.ty is Ty.TIME else f"{alias} ASC")
        for proj in cmd.aggregates:
            col = gen.render(proj.expr)
            if not col.agg:
                raise self.error(f"stats needs an aggregate function such as count(), sum() or avg(); "
                                 f"{proj.name!r} is not one", proj.expr)
            if col.bare:
                raise self.error(f"in {proj.name!r} every field must be inside an aggregate function", proj.expr)
            add(proj.name, col, proj.expr)
            if not proj.aliased and isinstance(proj.expr, ast.Call):
                short = proj.expr.name.lower()
                aliases[short] = proj.name if short not in aliases else ""
        self.stats_count += 1
        if self.stats_count == 1:
            # The events the first stats aggregated (the matched events when no filter follows it),
            # summed over its groups here, before any later command drops a group.
            self.count_col = self.alias("m")
            columns.append(f"sum(count()) OVER () AS {self.count_col}")
        inner = render_select(columns, self.stage, group_by=group_by or None, aggregate=True)
        scope = Scope(self.text, raw=False, indexed=self.scope.indexed, defined=defined,
                      aliases={k: v for k, v in aliases.items() if v}, params=self.params)
        scope.discovered, scope.numeric = self._discovered, self._numeric
        self.stage = Stage(f"(\n{_indent(inner)}\n)", scope, order=default_order, tiebreak=default_order)
        self.aggregated_out = outputs
        self.display = None

    def cmd_pattern(self, cmd: ast.Pattern) -> None:
        if self.stage.limit is not None or self.stage.limit_by:
            self.wrap_rows()
        self.freeze_event_filters()
        self.patterned = True
        gen = ExprGen(self.scope)
        src = gen.coerce(gen.render(cmd.source), "str", cmd.source)
        masked = f"ifNull({src}, '')"
        for regex, repl in _PATTERN_MASKS:
            masked = f"replaceRegexpAll({masked}, {sql_str(regex)}, {sql_str(repl)})"
        p, c = self.alias("p"), self.alias("c")
        self.never_null.add(c)
        inner = render_select([f"{masked} AS {p}", f"count() AS {c}"], self.stage, group_by=[p], aggregate=True)
        r, sev = self.alias("r"), self.alias("v")
        severity = (f"multiIf(match({p}, '(?i)\\\\b(error|fatal|critical|crit|exception)\\\\b'), 'ERROR', "
                    f"match({p}, '(?i)\\\\b(warn|warning)\\\\b'), 'WARN', match({p}, '(?i)\\\\binfo\\\\b'), 'INFO', "
                    f"match({p}, '(?i)\\\\bdebug\\\\b'), 'DEBUG', 'UNKNOWN')")
        with_ratio = (f"SELECT {p}, {c}, {c} / sum({c}) OVER () AS {r}, {severity} AS {sev}\n"
                      f"FROM (\n{_indent(inner)}\n)")
        defined = {"@pattern": Col(p, Ty.STR), "@sampleCount": Col(c, Ty.NUM), "@ratio": Col(r, Ty.NUM),
                   "@severityLabel": Col(sev, Ty.STR)}
        scope = Scope(self.text, raw=False, indexed=self.scope.indexed, defined=defined, params=self.params)
        scope.discovered, scope.numeric = self._discovered, self._numeric
        self.stage = Stage(f"(\n{_indent(with_ratio)}\n)", scope, order=[f"{c} DESC", f"{p} ASC"],
                           tiebreak=[f"{p} ASC"])
        self.aggregated_out = list(defined)
        self.display = None

    # -- assembly -------------------------------------------------------------------
    def output_names(self) -> list[str]:
        if self.display is not None:
            return self.display
        if self.aggregated_out is not None:
            return self.aggregated_out
        return self.fields_out or list(DEFAULT_FIELDS)

    @property
    def discovered(self) -> set[str]:
        return self._discovered

    def matched_strategy(self) -> str:
        """How recordsMatched is known: "scanned" (no filters: every event), "window" (a window sum
        over the hidden count() of the only stats, with_matched=True: a few rows, cheap),
        "before_limit" (an event query: the rows before its final LIMIT, which ClickHouse reports as
        rows_before_limit_at_least) or "pass" (a counting pass; a window over events would stop
        ClickHouse's top-N and read-in-order)."""
        if self.wrapped or self.patterned:
            return "pass"
        if not self.event_filters:
            return "scanned"
        if self.stats_count == 1 and not self.filter_after_stats:
            return "window"
        if self.stats_count == 0 and not self.stage.limit_by:
            return "before_limit"  # the rows before the final LIMIT are exactly the matched events
        return "pass"

    def generate(self, limit: int | None, with_matched: bool = False) -> tuple[str, list[str]]:
        for cmd in self.query.commands:
            handler: Callable = _COMMANDS[type(cmd)]
            handler(self, cmd)
        self.freeze_event_filters()
        names = self.output_names()
        if self.aggregated_out is not None:
            # A group with no value at all (say avg(duration) by path, for the events that have
            # neither) is not a row of the result.
            outs = [self.scope.lookup(ast.Field(0, 0, name)).sql for name in names]
            if not self.never_null & set(outs):
                self.stage.where.append("NOT (" + " AND ".join(f"isNull({c})" for c in outs) + ")")
        columns = []
        for k, name in enumerate(names):
            col = self.scope.lookup(ast.Field(0, 0, name))
            columns.append(f"{_format(col)} AS __o{k}")
        if with_matched and self.matched_strategy() == "window":
            columns.append(f"{self.count_col} AS __matched")
        if not self.stage.order:
            self.stage.order = self.default_order()
        caps = [MAX_ROWS] + [n for n in (self.stage.limit, limit) if n is not None]
        sql = render_select(columns, self.stage, final_limit=min(caps))
        return sql, names


def _format(col: Col) -> str:
    """Result values are text, as GetQueryResults returns them."""
    if col.ty is Ty.TIME:
        return f"toString({col.sql}, 'UTC')"
    if col.ty is Ty.NUM:
        return f"toString({col.sql})"
    if col.ty is Ty.BOOL:
        return f"toString(toUInt8({col.sql}))"
    return col.sql


_COMMANDS: dict[type, Callable] = {
    ast.Fields: Generator.cmd_fields,
    ast.Display: Generator.cmd_display,
    ast.Filter: Generator.cmd_filter,
    ast.Parse: Generator.cmd_parse,
    ast.Sort: Generator.cmd_sort,
    ast.Limit: Generator.cmd_limit,
    ast.Dedup: Generator.cmd_dedup,
    ast.Stats: Generator.cmd_stats,
    ast.Pattern: Generator.cmd_pattern,
}

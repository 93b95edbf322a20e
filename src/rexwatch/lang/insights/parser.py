"""Recursive-descent parser: tokens -> ``ast.Query``.

Grammar (lowest precedence first)::

    query      := command ("|" command)*
    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | compare
    compare    := additive [(= != < <= > >=) additive
                           | ["not"] like (regex | string) | =~ regex
                           | ["not"] in "[" literal ("," literal)* "]"]
    additive   := multiply (("+" | "-") multiply)*
    multiply   := power (("*" | "/" | "%") power)*
    power      := unary ["^" power]
    unary      := "-" unary | primary
    primary    := number | string | true | false | regex | duration | field
                | name "(" [args] ")" | "(" expr ")"
"""

from __future__ import annotations

from rexwatch.errors import QueryError
from rexwatch.lang.base import MAX_TREE_DEPTH, ParserBase, check_depth, dataclass_children, recursion_guard
from rexwatch.lang.insights import ast
from rexwatch.lang.insights.tokens import T, Token, tokenize

COMMANDS = ("fields", "filter", "stats", "sort", "limit", "parse", "display", "dedup", "pattern")
_UNSUPPORTED = ("unmask", "diff", "anomaly", "filterindex", "unnest", "expand", "lookup", "join", "source",
                "addtotals")
_KEYWORDS = {"and", "or", "not", "like", "in", "as", "by", "asc", "desc"}
_COMPARE = ("=", "!=", "<", "<=", ">", ">=")


class Parser(ParserBase):
    EOF = T.EOF
    END_TEXT = "the end of the query"

    def __init__(self, text: str) -> None:
        super().__init__(text, tokenize(text))

    def expect(self, kind: T, what: str) -> Token:
        if self.tok.kind is not kind:
            raise self.error(f"expected {what} but found {self.describe(self.tok)}")
        return self.advance()

    def accept_word(self, *words: str) -> Token | None:
        if self.tok.is_word(*words):
            return self.advance()
        return None

    def accept_op(self, *ops: str) -> Token | None:
        if self.tok.kind is T.OP and self.tok.text in ops:
            return self.advance()
        return None

    # -- query and commands ----------------------------------------------------
    def parse(self) -> ast.Query:
        commands: list[ast.Command] = []
        if self.tok.kind is T.EOF:
            raise self.error("the query is empty: expected a command such as fields, filter or stats")
        while True:
            if self.tok.kind is T.PIPE:
                raise self.error("expected a command before '|'")
            commands.append(self.command())
            if self.tok.kind is T.EOF:
                break
            if self.tok.kind is not T.PIPE:
                raise self.error(f"expected '|' or the end of the query but found {self.describe(self.tok)}")
            self.advance()
            if self.tok.kind is T.EOF:
                raise self.error("expected a command after '|'")
        return ast.Query(self.text, tuple(commands))

    def command(self) -> ast.Command:
        tok = self.tok
        if tok.kind is not T.IDENT:
            raise self.error(f"expected a command ({', '.join(COMMANDS)}) but found {self.describe(tok)}")
        name = tok.text.lower()
        if name in _UNSUPPORTED:
            raise self.error(f"the {tok.text} command is not supported by rexwatch")
        if name not in COMMANDS:
            raise self.error(f"unknown command {tok.text!r}: expected one of {', '.join(COMMANDS)}")
        self.advance()
        node = getattr(self, f"cmd_{name}")(tok.start)
        return node

    def _end(self) -> int:
        return self.tokens[self.i - 1].end

    def projection(self, *, allow_alias: bool = True) -> ast.Projection:
        start_tok = self.tok
        expr = self.expr()
        text = self.text[start_tok.start : self._end()]
        if allow_alias and self.accept_word("as"):
            alias = self.field_name("a name after 'as'")
            return ast.Projection(expr, alias.name, True)
        if isinstance(expr, ast.Field):
            return ast.Projection(expr, expr.name, False)
        return ast.Projection(expr, " ".join(text.split()), False)

    def comma_list(self, item):
        items = [item()]
        while self.tok.kind is T.COMMA:
            self.advance()
            items.append(item())
        return tuple(items)

    def field_name(self, what: str = "a field name") -> ast.Field:
        tok = self.tok
        if tok.kind is T.QIDENT or (tok.kind is T.IDENT and tok.text.lower() not in _KEYWORDS):
            self.advance()
            return ast.Field(tok.start, tok.end, str(tok.value))
        raise self.error(f"expected {what} but found {self.describe(tok)}")

    def cmd_fields(self, start: int) -> ast.Fields:
        items = self.comma_list(self.projection)
        return ast.Fields(start, self._end(), items)

    def cmd_display(self, start: int) -> ast.Display:
        items = self.comma_list(self.field_name)
        return ast.Display(start, self._end(), items)

    def cmd_dedup(self, start: int) -> ast.Dedup:
        items = self.comma_list(self.field_name)
        return ast.Dedup(start, self._end(), items)

    def cmd_filter(self, start: int) -> ast.Filter:
        if self.tok.kind in (T.EOF, T.PIPE):
            raise self.error("expected a condition after filter")
        condition = self.expr()
        return ast.Filter(start, self._end(), condition)

    def cmd_stats(self, start: int) -> ast.Stats:
        if self.tok.kind is T.EOF or self.tok.kind is T.PIPE or self.tok.is_word("by"):
            raise self.error("expected an aggregate function such as count() after stats")
        aggs = self.comma_list(self.projection)
        by: tuple[ast.Projection, ...] = ()
        if self.accept_word("by"):
            by = self.comma_list(self.projection)
        return ast.Stats(start, self._end(), aggs, by)

    def cmd_sort(self, start: int) -> ast.Sort:
        def key() -> ast.SortKey:
            expr = self.expr()
            desc = False
            if self.accept_word("desc"):
                desc = True
            else:
                self.accept_word("asc")
            return ast.SortKey(expr, desc)

        if self.tok.kind in (T.EOF, T.PIPE):
            raise self.error("expected a field to sort by")
        keys = self.comma_list(key)
        return ast.Sort(start, self._end(), keys)

    def cmd_limit(self, start: int) -> ast.Limit:
        tok = self.tok
        if tok.kind is not T.NUMBER or not isinstance(tok.value, int):
            raise self.error(f"expected a whole number after limit but found {self.describe(tok)}")
        self.advance()
        if tok.value <= 0:
            raise self.error("limit must be at least 1", tok)
        return ast.Limit(start, tok.end, int(tok.value))

    def cmd_parse(self, start: int) -> ast.Parse:
        if self.tok.kind in (T.STRING, T.REGEX):
            source: ast.Expr = ast.Field(self.tok.start, self.tok.start, "@message")
        else:
            source = self.unary()
        tok = self.tok
        if tok.kind is T.STRING:
            self.advance()
            glob = str(tok.value)
            if "*" not in glob:
                raise self.error("the parse pattern has no '*' to capture", tok)
            if not self.accept_word("as"):
                raise self.error(f"expected 'as' and the names of the {glob.count('*')} captured fields")
            names = self.comma_list(self.field_name)
            if len(names) != glob.count("*"):
                raise QueryError(
                    f"the pattern has {glob.count('*')} '*' but {len(names)} names follow 'as'",
                    query=self.text, start=names[0].start, end=names[-1].end)
            return ast.Parse(start, self._end(), source, glob, None, names)
        if tok.kind is T.REGEX:
            self.advance()
            regex = ast.Regex(tok.start, tok.end, str(tok.value))
            if self.tok.is_word("as"):
                raise self.error("a regular expression names its fields with (?<name>...) groups, not 'as'")
            return ast.Parse(start, self._end(), source, None, regex, ())
        raise self.error(f"expected a \"glob * pattern\" or a /regular expression/ but found {self.describe(tok)}")

    def cmd_pattern(self, start: int) -> ast.Pattern:
        if self.tok.kind in (T.EOF, T.PIPE):
            return ast.Pattern(start, self._end(), ast.Field(start, start, "@message"))
        return ast.Pattern(start, self._end(), self.expr())

    # -- expressions -------------------------------------------------------------
    def expr(self) -> ast.Expr:
        with self.nested():
            return self.or_()

    def or_(self) -> ast.Expr:
        left = self.and_()
        while self.accept_word("or"):
            right = self.and_()
            left = ast.Binary(left.start, right.end, "or", left, right)
        return left

    def and_(self) -> ast.Expr:
        left = self.not_()
        while self.accept_word("and"):
            right = self.not_()
            left = ast.Binary(left.start, right.end, "and", left, right)
        return left

    def not_(self) -> ast.Expr:
        tok = self.accept_word("not") or self.accept_op("!")
        if tok:
            with self.nested():
                operand = self.not_()
            return ast.Unary(tok.start, operand.end, "not", operand)
        return self.compare()

    def compare(self) -> ast.Expr:
        left = self.additive()
        op = self.accept_op(*_COMPARE)
        if op:
            right = self.additive()
            return ast.Binary(left.start, right.end, op.text, left, right)
        if self.accept_op("=~"):
            pat = self.expect(T.REGEX, "a /regular expression/ after =~")
            return ast.Like(left.start, pat.end, left, ast.Regex(pat.start, pat.end, str(pat.value)), False)
        negated = False
        if self.tok.is_word("not") and self.peek().is_word("like", "in"):
            self.advance()
            negated = True
        if self.accept_word("like"):
            tok = self.tok
            if tok.kind is T.REGEX:
                pattern: ast.Expr = ast.Regex(tok.start, tok.end, str(tok.value))
            elif tok.kind is T.STRING:
                pattern = ast.Literal(tok.start, tok.end, str(tok.value))
            else:
                raise self.error(f"expected a /regular expression/ or a \"string\" after like but found "
                                 f"{self.describe(tok)}")
            self.advance()
            return ast.Like(left.start, tok.end, left, pattern, negated)
        if self.accept_word("in"):
            self.expect(T.LBRACKET, "'[' to start the list after in")
            items: list[ast.Literal] = []
            while True:
                item = self.unary()
                if not isinstance(item, ast.Literal):
                    raise QueryError("the list after in may hold only strings, numbers and booleans",
                                     query=self.text, start=item.start, end=item.end)
                items.append(item)
                if self.tok.kind is T.COMMA:
                    self.advance()
                    continue
                break
            end = self.expect(T.RBRACKET, "',' or ']' in the list after in")
            return ast.InList(left.start, end.end, left, tuple(items), negated)
        if negated:
            raise self.error("expected like or in after not")
        return left

    def additive(self) -> ast.Expr:
        left = self.multiply()
        while op := self.accept_op("+", "-"):
            right = self.multiply()
            left = ast.Binary(left.start, right.end, op.text, left, right)
        return left

    def multiply(self) -> ast.Expr:
        left = self.power()
        while op := self.accept_op("*", "/", "%"):
            right = self.power()
            left = ast.Binary(left.start, right.end, op.text, left, right)
        return left

    def power(self) -> ast.Expr:
        left = self.unary()
        if self.accept_op("^"):
            with self.nested():
                right = self.power()
            return ast.Binary(left.start, right.end, "^", left, right)
        return left

    def unary(self) -> ast.Expr:
        tok = self.accept_op("-")
        if tok:
            with self.nested():
                operand = self.unary()
            if isinstance(operand, ast.Literal) and isinstance(operand.value, (int, float)) \
                    and not isinstance(operand.value, bool):
                return ast.Literal(tok.start, operand.end, -operand.value)
            return ast.Unary(tok.start, operand.end, "-", operand)
        return self.primary()

    def primary(self) -> ast.Expr:
        tok = self.tok
        if tok.kind is T.NUMBER:
            self.advance()
            return ast.Literal(tok.start, tok.end, tok.value)  # type: ignore[arg-type]
        if tok.kind is T.STRING:
            self.advance()
            return ast.Literal(tok.start, tok.end, str(tok.value))
        if tok.kind is T.REGEX:
            self.advance()
            return ast.Regex(tok.start, tok.end, str(tok.value))
        if tok.kind is T.DURATION:
            self.advance()
            amount, unit = tok.value  # type: ignore[misc]
            return ast.Duration(tok.start, tok.end, amount, unit)
        if tok.kind is T.LPAREN:
            self.advance()
            inner = self.expr()
            self.expect(T.RPAREN, "')'")
            return inner
        if tok.kind is T.QIDENT:
            self.advance()
            return ast.Field(tok.start, tok.end, str(tok.value))
        if tok.kind is T.IDENT:
            low = tok.text.lower()
            if low in ("true", "false") and self.peek().kind is not T.LPAREN:
                self.advance()
                return ast.Literal(tok.start, tok.end, low == "true")
            if self.peek().kind is T.LPAREN:
                return self.call()
            if low in _KEYWORDS:
                raise self.error(f"expected a value but found the keyword {tok.text!r}")
            self.advance()
            return ast.Field(tok.start, tok.end, tok.text)
        raise self.error(f"expected a field, value or function but found {self.describe(tok)}")

    def call(self) -> ast.Call:
        name = self.advance()
        self.expect(T.LPAREN, "'('")
        args: list[ast.Expr] = []
        if self.tok.kind is T.OP and self.tok.text == "*" and self.peek().kind is T.RPAREN:
            star = self.advance()
            args.append(ast.Star(star.start, star.end))
        elif self.tok.kind is not T.RPAREN:
            args.append(self.expr())
            while self.tok.kind is T.COMMA:
                self.advance()
                args.append(self.expr())
        end = self.expect(T.RPAREN, f"',' or ')' to close {name.text}(")
        return ast.Call(name.start, end.end, name.text, tuple(args), name.end)


def parse(text: str) -> ast.Query:
    with recursion_guard(text):
        query = Parser(text).parse()

    def too_deep(node: ast.Expr, limit: int) -> QueryError:
        return QueryError(f"the expression nests more than {MAX_TREE_DEPTH} levels deep (each operator of a chain "
                          "such as a + b + c counts as a level)", query=text, start=node.start, end=node.end)

    # Chains such as 1+1+1+… are left-deep trees that the generator walks by recursion.
    check_depth(query, dataclass_children, too_deep, limit=MAX_TREE_DEPTH + 2)  # + the Query and command levels
    return query

"""Filter-pattern parser: tokens -> ``ast`` nodes.

Grammar (``||`` binds looser than ``&&``; parentheses group)::

    pattern    := <empty> | text | json | delimited
    text       := ( ['?' | '-'] (WORD | STRING | REGEX) )+
    json       := '{' or '}'
    or         := and ('||' and)*
    and        := unary ('&&' unary)*
    unary      := '(' or ')' | SELECTOR cond
    cond       := OP value | IS NULL | IS TRUE | IS FALSE | NOT EXISTS
    delimited  := '[' slot (',' slot)* ']'
    slot       := '...' | NAME [OP value (('&&'|'||') field_cond)*]
    field_cond := NAME OP value | '(' field_cond ... ')'
    value      := STRING | REGEX | WORD   (a bare number compares numerically)
"""

from __future__ import annotations

import re

from rexwatch.errors import QueryError
from rexwatch.lang.base import ParserBase, check_length, recursion_guard
from rexwatch.lang.filterpattern import ast
from rexwatch.lang.filterpattern.tokens import Mode, T, Token, Tokenizer

# What CloudWatch accepts inside %...%: letters, digits, these symbols and operators.
_REGEX_ALLOWED = re.compile(r"[A-Za-z0-9:_#=@/;,\- ^$?\[\]{}|\\*+.]*")
MAX_REGEXES = 2  # per JSON or space-delimited pattern, as in CloudWatch
MAX_LENGTH = 1024  # characters, as in CloudWatch
MAX_DEPTH = 32  # nested parentheses
MAX_WILDCARDS = 3  # wildcard selectors per JSON pattern, as in CloudWatch
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_@][A-Za-z0-9_\-@.]*")


class Parser(ParserBase):
    EOF = T.EOF
    END_TEXT = "the end of the pattern"

    def __init__(self, text: str) -> None:
        check_length(text, MAX_LENGTH, "a filter pattern")
        self.mode, tokens = Tokenizer(text).tokenize()
        super().__init__(text, tokens)

    # -- entry ----------------------------------------------------------------

    def parse(self) -> ast.Pattern:
        if self.tok.kind is T.EOF:
            return ast.MatchAll(span=(0, len(self.text)))
        if self.mode is Mode.JSON:
            node: ast.Pattern = self.parse_json()
        elif self.mode is Mode.DELIMITED:
            node = self.parse_delimited()
        else:
            node = self.parse_text()
        if self.mode is not Mode.TEXT:
            self.at_most(MAX_REGEXES, [n for n in ast.walk(node) if isinstance(n, ast.RegexValue)],
                         "a JSON or space-delimited pattern may use at most {} regular expressions")
        self.at_most(MAX_WILDCARDS,
                     [n for n in ast.walk(node) if isinstance(n, ast.Selector) and n.wildcard is not None],
                     "a JSON pattern may use at most {} wildcard selectors")
        return node

    def at_most(self, limit: int, nodes: list[ast.Node], message: str) -> None:
        if len(nodes) > limit:
            extra = nodes[limit]
            raise QueryError(message.format(limit), query=self.text, start=extra.span[0], end=extra.span[1])

    # -- terms ----------------------------------------------------------------

    def parse_text(self) -> ast.TextPattern:
        required: list[ast.Node] = []
        optional: list[ast.Node] = []
        excluded: list[ast.Node] = []
        start = self.tok.start
        while self.tok.kind is not T.EOF:
            bucket = required
            if self.tok.kind in (T.OPTIONAL, T.EXCLUDE):
                bucket = optional if self.advance().kind is T.OPTIONAL else excluded
            tok = self.advance()
            if tok.kind is T.REGEX:
                bucket.append(ast.Regex(self.check_regex(tok), span=(tok.start, tok.end)))
            elif tok.kind is T.STRING:
                if not tok.value:
                    raise self.error(
                        "an empty quoted phrase matches nothing: put text between the quotes", tok
                    )
                bucket.append(ast.Term(tok.value, span=(tok.start, tok.end)))
            elif tok.kind is T.WORD:
                if tok.value[0] in "{[":
                    raise self.error(
                        f"{tok.value[0]!r} starts a JSON or space-delimited pattern only at the start of the "
                        "pattern; quote the term to search for it as text",
                        tok,
                    )
                bucket.append(ast.Term(tok.value, span=(tok.start, tok.end)))
            else:
                raise self.expected("a term, a quoted phrase or a %regex%", tok)
        items: list[ast.Node] = list(required)
        if optional:
            items.append(optional[0] if len(optional) == 1 else ast.Or(tuple(optional)))
        if excluded:
            inner = excluded[0] if len(excluded) == 1 else ast.Or(tuple(excluded))
            items.append(ast.Not(inner))
        expr = items[0] if len(items) == 1 else ast.And(tuple(items))
        return ast.TextPattern(expr, span=(start, len(self.text)))

    def check_regex(self, tok: Token) -> str:
        pattern = tok.value
        if not pattern:
            raise self.error("an empty regular expression: put a regex between the % signs", tok)
        bad = next((i for i, ch in enumerate(pattern) if not _REGEX_ALLOWED.fullmatch(ch)), None)
        if bad is not None:
            ch = pattern[bad]
            why = (
                "( and ) are not supported in filter-pattern regexes"
                if ch in "()"
                else f"{ch!r} is not allowed in a filter-pattern regex"
            )
            pos = tok.start + 1 + bad
            raise QueryError(why, query=self.text, start=pos, end=pos + 1)
        try:
            re.compile(pattern)
        except re.error as e:
            pos = tok.start + 1 + (e.pos or 0)
            raise QueryError(f"invalid regular expression: {e.msg}", query=self.text, start=pos, end=pos + 1)
        return pattern

    # -- JSON -----------------------------------------------------------------

    def parse_json(self) -> ast.JsonPattern:
        start = self.expect(T.LBRACE, "{").start
        if self.tok.kind is T.RBRACE:
            raise self.expected("a condition such as $.field = value")
        expr = self.parse_or(self.parse_json_condition)
        end = self.expect(T.RBRACE, "&&, || or } closing the JSON pattern").end
        if self.tok.kind is not T.EOF:
            raise self.error("a JSON pattern must be the whole filter pattern: remove what follows }")
        return ast.JsonPattern(expr, span=(start, end))

    def parse_or(self, atom, first: ast.Node | None = None) -> ast.Node:
        items = [self.parse_and(atom, first)]
        while self.tok.kind is T.OR:
            self.advance()
            items.append(self.parse_and(atom))
        if len(items) == 1:
            return items[0]
        return ast.Or(tuple(items), span=(items[0].span[0], items[-1].span[1]))

    def parse_and(self, atom, first: ast.Node | None = None) -> ast.Node:
        items = [first if first is not None else self.parse_unary(atom)]
        while self.tok.kind is T.AND:
            self.advance()
            items.append(self.parse_unary(atom))
        if len(items) == 1:
            return items[0]
        return ast.And(tuple(items), span=(items[0].span[0], items[-1].span[1]))

    def parse_unary(self, atom) -> ast.Node:
        if self.tok.kind is T.LPAREN:
            if self.depth >= MAX_DEPTH:
                raise self.error(f"parentheses nest more than {MAX_DEPTH} deep")
            self.advance()
            self.depth += 1
            node = self.parse_or(atom)
            self.depth -= 1
            self.expect(T.RPAREN, "&&, || or )")
            return node
        return atom()

    def parse_json_condition(self) -> ast.Node:
        tok = self.tok
        if tok.kind is not T.SELECTOR:
            raise self.expected("a selector such as $.field")
        self.advance()
        selector = ast.Selector(tok.path, span=(tok.start, tok.end))
        nxt = self.tok
        if nxt.kind is T.OP:
            op = self.advance().value
            value = self.parse_value(op)
            return ast.JsonCompare(selector, op, value, span=(tok.start, value.span[1]))
        if nxt.kind is T.WORD and nxt.value.upper() in ("IS", "NOT"):
            first = self.advance()
            second = self.tok
            word = second.value.upper() if second.kind is T.WORD else ""
            if first.value.upper() == "IS" and word in ("NULL", "TRUE", "FALSE"):
                self.advance()
                return ast.JsonIs(selector, word, span=(tok.start, second.end))
            if first.value.upper() == "NOT" and word == "EXISTS":
                self.advance()
                return ast.JsonIs(selector, "NOT EXISTS", span=(tok.start, second.end))
            what = "NULL, TRUE or FALSE after IS" if first.value.upper() == "IS" else "EXISTS after NOT"
            raise self.expected(what, second)
        raise self.expected(
            f"=, !=, <, <=, >, >=, IS NULL, IS TRUE, IS FALSE or NOT EXISTS after {tok.value}"
        )

    def parse_value(self, op: str) -> ast.Value:
        tok = self.tok
        span = (tok.start, tok.end)
        if tok.kind is T.STRING:
            self.advance()
            value: ast.Value = ast.StringValue(tok.value, span=span)
        elif tok.kind is T.REGEX:
            self.advance()
            value = ast.RegexValue(self.check_regex(tok), span=span)
        elif tok.kind is T.WORD:
            self.advance()
            if _NUMBER.fullmatch(tok.value):
                value = ast.NumberValue(float(tok.value), tok.value, span=span)
            else:
                value = ast.StringValue(tok.value, span=span)
        else:
            raise self.expected(f"a value after {op}")
        if op not in ("=", "!=") and not isinstance(value, ast.NumberValue):
            raise self.error(f"{op} compares numbers: expected a number, found {self.describe(tok)}", tok)
        return value

    # -- space-delimited ------------------------------------------------------

    def parse_delimited(self) -> ast.DelimitedPattern:
        start = self.expect(T.LBRACKET, "[").start
        slots: list[ast.Slot] = []
        names: set[str] = set()
        while True:
            tok = self.tok
            if tok.kind is T.ELLIPSIS:
                self.advance()
                slots.append(ast.Slot(None, span=(tok.start, tok.end)))
            elif tok.kind is T.WORD and _NAME.fullmatch(tok.value):
                self.advance()
                if tok.value in names:
                    raise self.error(f"field name {tok.value!r} is used twice", tok)
                names.add(tok.value)
                cond = None
                if self.tok.kind is T.OP:
                    op = self.advance().value
                    value = self.parse_value(op)
                    first = ast.FieldCompare(tok.value, op, value, span=(tok.start, value.span[1]))
                    cond = self.parse_or(lambda name=tok.value: self.parse_field_condition(name), first)
                slots.append(ast.Slot(tok.value, cond, span=(tok.start, self.tokens[self.i - 1].end)))
            else:
                raise self.expected("a field name or ...")
            if self.tok.kind is T.COMMA:
                self.advance()
                continue
            end = self.expect(T.RBRACKET, ", or ] closing the space-delimited pattern").end
            break
        if self.tok.kind is not T.EOF:
            raise self.error(
                "a space-delimited pattern must be the whole filter pattern: remove what follows ]"
            )
        return ast.DelimitedPattern(tuple(slots), span=(start, end))

    def parse_field_condition(self, name: str) -> ast.Node:
        tok = self.tok
        if tok.kind is not T.WORD or tok.value != name:
            raise self.expected(f"{name} (a condition in this field can only test {name})")
        self.advance()
        if self.tok.kind is not T.OP:
            raise self.expected(f"=, !=, <, <=, > or >= after {name}")
        op = self.advance().value
        value = self.parse_value(op)
        return ast.FieldCompare(name, op, value, span=(tok.start, value.span[1]))


def parse(text: str) -> ast.Pattern:
    with recursion_guard(text):
        return Parser(text).parse()

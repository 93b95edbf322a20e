"""SEARCH() in metric math: find metrics by namespace, dimension schema, properties and terms.

    SEARCH('{UTM/Application,Service} MetricName="APILatency"', 'p99', 300)

- ``{Namespace,Dim1,Dim2}``: metrics of that namespace whose dimension names are exactly those.
- ``Name="value"`` / ``Name=value``: an exact property (``MetricName``, ``Namespace`` or a dimension).
- other words: each must appear in the metric name, namespace or a dimension value (case-insensitive).
- ``AND`` (also implied between operands), ``OR``, ``NOT`` and parentheses combine them.

The pipeline is the shared ``Lexer`` -> ``parser`` -> ``ast`` -> ``SearchQuery.matches``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rexwatch.lang.search.ast import And, Expr, Not, Or, Prop, Schema, Term
from rexwatch.lang.search.parser import parse

__all__ = ["MAX_RESULTS", "SearchQuery", "parse_search"]

MAX_RESULTS = 500  # metrics one SEARCH() may return


class MetricLike(Protocol):
    namespace: str
    metric_name: str
    dimensions: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class SearchQuery:
    schema: Schema | None
    expr: Expr | None

    @property
    def namespace(self) -> str | None:
        """The one namespace every match is in, when the expression pins it (narrows the listing)."""
        if self.schema is not None:
            return self.schema.namespace
        conjuncts = self.expr.items if isinstance(self.expr, And) else (self.expr,)
        for c in conjuncts:
            if isinstance(c, Prop) and c.name == "Namespace":
                return c.value
        return None

    def matches(self, m: MetricLike) -> bool:
        dims = dict(m.dimensions)
        if self.schema is not None and (
            m.namespace != self.schema.namespace or tuple(sorted(dims)) != self.schema.dimensions
        ):
            return False
        if self.expr is None:
            return True
        haystack = " ".join([m.metric_name, m.namespace, *dims.values()]).lower()

        def ev(n: Expr) -> bool:
            if isinstance(n, Term):
                return n.text in haystack
            if isinstance(n, Prop):
                actual = (m.metric_name if n.name == "MetricName"
                          else m.namespace if n.name == "Namespace" else dims.get(n.name))
                return actual == n.value
            if isinstance(n, Not):
                return not ev(n.operand)
            if isinstance(n, And):
                return all(ev(i) for i in n.items)
            assert isinstance(n, Or)
            return any(ev(i) for i in n.items)

        return ev(self.expr)


def parse_search(text: str) -> SearchQuery:
    """Parse a SEARCH() expression; raises ``QueryError`` with the position of the problem."""
    schema, expr = parse(text)
    return SearchQuery(schema, expr)

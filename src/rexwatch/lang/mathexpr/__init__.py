"""CloudWatch metric math expressions: ``parse(text)`` -> an ``ast`` tree.

The pipeline is the shared ``Lexer`` -> ``parser`` -> ``ast``; the metrics
service evaluates the tree over time series. The language is documented in
docs/metrics.md.
"""

from rexwatch.lang.mathexpr.ast import Binary, Call, ListExpr, Node, Num, Ref, Str, Unary, walk
from rexwatch.lang.mathexpr.parser import parse

__all__ = ["Binary", "Call", "ListExpr", "Node", "Num", "Ref", "Str", "Unary", "parse", "walk"]

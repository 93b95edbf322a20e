"""The Insights syntax tree: expressions and commands as frozen dataclasses.

Every node carries ``start``/``end`` offsets into the query text so the
generator can report errors at the right column.
"""

from rexwatch.lang.insights.ast.commands import (
    Command,
    Dedup,
    Display,
    Fields,
    Filter,
    Limit,
    Parse,
    Pattern,
    Projection,
    Query,
    Sort,
    SortKey,
    Stats,
)
from rexwatch.lang.insights.ast.expressions import (
    Binary,
    Call,
    Duration,
    Expr,
    Field,
    InList,
    Like,
    Literal,
    Regex,
    Star,
    Unary,
)

__all__ = [
    "Binary", "Call", "Command", "Dedup", "Display", "Duration", "Expr", "Field", "Fields", "Filter", "InList",
    "Like", "Limit", "Literal", "Parse", "Pattern", "Projection", "Query", "Regex", "Sort", "SortKey", "Star",
    "Stats", "Unary",
]

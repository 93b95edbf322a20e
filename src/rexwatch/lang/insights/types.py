"""Value types of compiled expressions and the column they compile to."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Ty(Enum):
    STR = "string"
    NUM = "number"
    BOOL = "boolean"
    TIME = "timestamp"
    # A discovered or parsed field: text that may hold a number, compared as a
    # number against numbers and as text against text.
    FIELD = "field"


@dataclass(frozen=True, slots=True)
class Col:
    """A compiled expression: ClickHouse SQL, its type, and where aggregates are."""

    sql: str
    ty: Ty
    agg: bool = False  # contains an aggregate function
    bare: bool = False  # refers to an event field outside any aggregate
    num_sql: str | None = None  # a cheaper numeric reading (JSON fields), used in numeric context
    json_field: bool = False  # parsed out of the JSON message (a text guard can skip the parse)

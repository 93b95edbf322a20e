"""Column types shared by the control-store tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

# Every integer id column is a signed 64-bit integer (SQLite INTEGER, PostgreSQL BIGINT).
MAX_ID = 2**63 - 1


def as_id(value: str | int) -> int | None:
    """``value`` as a row id, or None when no row can have it: a lookup by a number past 64 bits
    (or by "²", which ``str.isdigit`` accepts and ``int`` refuses) must find nothing, not make
    the driver raise OverflowError."""
    text = str(value)
    if not (text.isascii() and text.isdigit()):
        return None
    n = int(text)
    return n if 0 < n <= MAX_ID else None


class UTCDateTime(TypeDecorator):
    """A timestamp that is always an aware UTC datetime in Python.

    PostgreSQL keeps the zone but SQLite hands back naive values; normalising
    here means no reader has to repair a datetime it got from the store.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return value


def has_prefix(column: Any, prefix: str) -> Any:
    """``column`` starts with ``prefix``, case-sensitively on every backend.

    ``startswith`` compiles to LIKE, which SQLite matches case-insensitively, so a prefix
    ``prod`` would also list ``Prod_x``; AWS's name prefixes are case-sensitive.
    """
    from sqlalchemy import func

    return func.substr(column, 1, len(prefix)) == prefix

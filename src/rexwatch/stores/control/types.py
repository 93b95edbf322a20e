"""Column types shared by the control-store tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


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

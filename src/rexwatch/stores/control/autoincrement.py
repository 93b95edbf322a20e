"""Ids that are never reused: SQLite tables rebuilt with AUTOINCREMENT.

An SQLite ``INTEGER PRIMARY KEY`` without AUTOINCREMENT hands out max(id)+1,
so deleting the newest row and creating another gives the new row the old id,
and with it everything keyed by that id elsewhere (probe results in the
telemetry store, history). With AUTOINCREMENT, SQLite keeps a high-water mark
in ``sqlite_sequence`` and never goes back. PostgreSQL's sequences never go
back either, so there is nothing to do there.

Each area's migration calls ``rebuild`` for its tables; the table definitions
in ``tables/`` carry ``sqlite_autoincrement=True`` to match.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text


def has_autoincrement(conn, table: str) -> bool:
    sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE type='table' AND name=:n"), {"n": table}).scalar()
    return bool(sql) and "AUTOINCREMENT" in sql.upper()


def rebuild(*tables: str) -> None:
    """Copy each table into one declared with AUTOINCREMENT (SQLite only; keeps rows, ids and indexes).

    The migration environment turns foreign keys off for SQLite first: dropping the old parent table
    would otherwise cascade into its children.
    """
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    for table in tables:
        if has_autoincrement(conn, table):
            continue
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass
        # Start the high-water mark at the largest id present.
        conn.execute(text("DELETE FROM sqlite_sequence WHERE name = :n"), {"n": table})
        conn.execute(
            text(f'INSERT INTO sqlite_sequence (name, seq) SELECT :n, COALESCE(MAX(id), 0) FROM "{table}"'),
            {"n": table},
        )
